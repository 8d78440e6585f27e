"""F5 (issue 18): a session is bound to the credential it was proven with; rotating
the key (``idnode enterprise credentials`` again) ends every session opened
with the old one, over the Handle protocol and REST."""

from __future__ import annotations

import aiohttp
import pytest

from protocol.constants import RC_AUTHENTICATION_NEEDED, RC_SESSION_TIMEOUT, RC_SUCCESS
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.client import SecretKeyAuth, _answer
from resolver.handle.server import HandleServer
from tests.resolver.handle.test_handle_sessions import SQLITE_ONLY, _add, _open, server
from tests.resolver.handle.test_handle_support import NA, SECRET
from tests.resolver.http.test_rest_harness import ADMIN_ID, basic
from tests.resolver.http.test_rest_harness import NA as REST_NA
from tests.resolver.http.test_rest_harness import SECRET as REST_SECRET

__all__ = ["server"]  # the Handle server fixture


async def _rotate(store: HandleStore, handle: str, new: bytes) -> None:
    await store.modify_values(handle, [HandleValue(300, "HS_SECKEY", new, public_read=False)],
                              actor="operator")


@SQLITE_ONLY
async def test_handle_session_ends_when_its_key_is_rotated(
    server: HandleServer, database: HandleStore
) -> None:
    session = await _open(server)
    assert (await session.setup()).response_code == RC_SUCCESS
    first = _add(30, 2)
    challenge = await session.send(first)
    assert challenge.response_code == RC_AUTHENTICATION_NEEDED
    answer = _answer(first, challenge, SecretKeyAuth(NA, 300, SECRET))
    assert (await session.send(answer, sign=False)).response_code == RC_SUCCESS
    assert (await session.send(_add(31, 4))).response_code == RC_SUCCESS
    await _rotate(database, NA, b"rotated-secret")
    refused = await session.send(_add(32, 5))
    assert refused.response_code == RC_SESSION_TIMEOUT
    assert (await session.send(_add(33, 6))).response_code == RC_SESSION_TIMEOUT  # gone
    record = await database.get_handle(NA)
    assert record is not None and not {32, 33} & {v.index for v in record.values}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_rest_session_ends_when_its_key_is_rotated(
    rest: aiohttp.ClientSession, database: HandleStore
) -> None:
    async with rest.post("/api/sessions",
                         headers={"Authorization": basic(ADMIN_ID, REST_SECRET)}) as response:
        opened = await response.json()
    assert opened["authenticated"] is True
    in_session = {"Authorization": f'Handle sessionId="{opened["sessionId"]}"'}
    url = f"/api/handles/{REST_NA}?type=HS_SECKEY"
    async with rest.get(url, headers=in_session) as response:
        assert [v["index"] for v in (await response.json())["values"]] == [300]
    await _rotate(database, REST_NA, b"rotated-secret")
    for _ in range(2):  # refused, and the session is gone (not quietly anonymous)
        async with rest.get(url, headers=in_session) as response:
            assert response.status == 401
    # the new key opens a new session
    async with rest.post("/api/sessions", headers={
            "Authorization": basic(ADMIN_ID, "rotated-secret")}) as response:
        assert (await response.json())["authenticated"] is True


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_rest_create_in_a_session_ends_it_when_its_key_is_rotated(
    rest: aiohttp.ClientSession, database: HandleStore
) -> None:
    """A create reads the session's credential with the handle it creates (not on its
    own first): a rotated key still refuses it (401), ends the session, stores nothing."""
    async with rest.post("/api/sessions",
                         headers={"Authorization": basic(ADMIN_ID, REST_SECRET)}) as response:
        opened = await response.json()
    in_session = {"Authorization": f'Handle sessionId="{opened["sessionId"]}"'}
    body = {"values": [{"index": 1, "type": "URL",
                        "data": {"format": "string", "value": "https://example.org/"}}]}
    prefix = REST_NA.removeprefix("0.NA/")
    async with rest.put(f"/api/handles/{prefix}/RC-1", json=body,
                        headers=in_session) as response:
        assert response.status == 201
    await _rotate(database, REST_NA, b"rotated-secret")
    for n in (2, 3):  # refused, and the session is gone (not quietly anonymous)
        async with rest.put(f"/api/handles/{prefix}/RC-{n}", json=body,
                            headers=in_session) as response:
            assert response.status == 401
    assert await database.get_handle(f"{prefix}/RC-1") is not None
    assert await database.get_handle(f"{prefix}/RC-2") is None
    assert await database.get_handle(f"{prefix}/RC-3") is None
