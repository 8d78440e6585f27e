"""F9 (issue 18): anonymous work cannot push out authenticated state.

* REST: a flood of anonymous ``POST /api/sessions`` leaves an admin's session alive;
* Handle: a (spoofable) UDP flood of challenges leaves challenges of TCP clients open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocol.bodies import ValuesRequest
from protocol.constants import OC_ADD_VALUE, RC_AUTHENTICATION_NEEDED
from protocol.message import Message
from registry.store import HandleStore
from resolver.core.auth_sessions import (
    HANDLE,
    HTTP,
    Challenges,
    MemoryAuthState,
    Sessions,
    auth_bounds,
)
from resolver.core.limits import Limits
from resolver.core.model import Caller
from resolver.core.service import ResolutionService
from resolver.handle.requests import RequestProcessor
from tests.resolver.handle.test_handle_support import TV, seed, url
from tests.resolver.http.test_rest_harness import ADMIN_ID, SECRET, basic
from tests.tenancy.conftest import rest_client

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
LIMIT = 10


def _state() -> MemoryAuthState:
    return MemoryAuthState(auth_bounds(LIMIT, LIMIT))


def _rest_sessions() -> Sessions:
    return Sessions(_state(), HTTP, lifetime=1800, open_lifetime=120)


async def test_anonymous_sessions_do_not_evict_authenticated_ones() -> None:
    state = _state()
    store = Sessions(state, HTTP, lifetime=1800, open_lifetime=120)
    admin = await store.open(b"nonce")
    await store.authenticate(admin.session_id, Caller("0.NA/88.118.7", 300))
    for _ in range(5 * LIMIT):
        await store.open(b"nonce")
    kept = await store.get(admin.session_id)
    assert kept is not None and kept.caller.handle == "0.NA/88.118.7"
    assert len(state) <= 2 * LIMIT  # both kinds stay bounded


@pytest.fixture
async def small_node(
    database: HandleStore, tmp_path: Path
) -> AsyncIterator[aiohttp.ClientSession]:
    async with rest_client(database, tmp_path, sessions=_rest_sessions()) as rest:
        yield rest


@SQLITE
async def test_session_flood_over_rest_keeps_the_admin_session(
    small_node: aiohttp.ClientSession,
) -> None:
    async with small_node.post("/api/sessions",
                               headers={"Authorization": basic(ADMIN_ID, SECRET)}) as response:
        admin = (await response.json())["sessionId"]
    for _ in range(3 * LIMIT):
        async with small_node.post("/api/sessions") as response:
            assert response.status == 201
    async with small_node.get("/api/sessions/this",
                              headers={"Authorization": f'Handle sessionId="{admin}"'}) as r:
        assert (await r.json())["authenticated"] is True


def _write(request_id: int) -> Message:
    return Message(OC_ADD_VALUE, body=ValuesRequest(TV, (url(50, "x"),)), request_id=request_id)


@SQLITE
async def test_udp_challenge_flood_keeps_tcp_challenges(database: HandleStore) -> None:
    await seed(database)
    limits = Limits(max_pending_challenges=LIMIT)
    challenges = Challenges(_state(), limits.challenge_lifetime)
    processor = RequestProcessor(ResolutionService(database), limits=limits,
                                 challenges=challenges)
    [tcp_challenge] = await processor.process(_write(1))
    assert tcp_challenge.response_code == RC_AUTHENTICATION_NEEDED
    for i in range(3 * LIMIT):
        [udp] = await processor.process(_write(100 + i), spoofable=True)
        assert udp.response_code == RC_AUTHENTICATION_NEEDED
    assert await challenges.take(tcp_challenge.session_id) is not None


async def test_anonymous_handle_session_setups_do_not_evict_authenticated_sessions() -> None:
    table = Sessions(_state(), HANDLE, lifetime=3600)
    admin = (await table.open(b"k" * 32, 600)).session_id
    await table.authenticate(admin, Caller("0.NA/88.118.7", 300), b"credential")
    for _ in range(5 * LIMIT):
        await table.open(b"x" * 32, 600)
    kept = await table.get(admin)
    assert kept is not None and kept.caller == Caller("0.NA/88.118.7", 300)
    assert await table.use_counter(admin, 1) and await table.next_counter(admin) == 1
    await table.close(admin)
    assert await table.get(admin) is None
