"""The ``Handle`` authorization scheme: sessions, signed nonces, no replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from registry.store import HandleStore
from resolver.core.auth_sessions import HTTP, DatabaseAuthState, Sessions
from resolver.http.api import run_http_server
from resolver.http.auth import HTTP_OPEN_SESSION_SECONDS, HTTP_SESSION_SECONDS
from tests.resolver.http.test_rest_harness import (
    ADMIN_ID,
    PREFIX,
    RSA_ID,
    RSA_KEY,
    SECRET,
    Served,
    basic,
    self_signed_context,
    serve,
)

RECORD = [{"index": 1, "type": "URL", "data": "https://example.org/s"}]


@pytest.fixture
async def http(database: HandleStore, tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async with serve(database, tmp_path) as node:
        served: Served = node
        connector = aiohttp.TCPConnector(ssl=False)
        async with aiohttp.ClientSession(served.url, connector=connector) as session:
            yield session


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def signed_header(session_id: str, nonce: bytes, *, cnonce: bytes | None = None) -> str:
    cnonce = cnonce or os.urandom(16)
    signature = RSA_KEY.sign(nonce + cnonce, padding.PKCS1v15(), hashes.SHA256())
    return (
        f'Handle version="0", sessionId="{session_id}", id="{quote(RSA_ID, safe="")}", '
        f'type="HS_PUBKEY", cnonce="{b64(cnonce)}", alg="SHA256", signature="{b64(signature)}"'
    )


def mac_header(session_id: str, nonce: bytes) -> str:
    cnonce = os.urandom(16)
    mac = hmac.new(SECRET.encode(), nonce + cnonce, hashlib.sha256).digest()
    return (
        f'Handle sessionId="{session_id}", id="{ADMIN_ID}", type="HS_SECKEY", '
        f'cnonce="{b64(cnonce)}", alg="HMAC-SHA256", signature="{b64(mac)}"'
    )


def session_only(session_id: str) -> dict[str, str]:
    return {"Authorization": f'Handle sessionId="{session_id}"'}


async def new_session(http: aiohttp.ClientSession) -> tuple[str, bytes]:
    async with http.post("/api/sessions") as response:
        assert response.status == 201
        assert response.headers["Location"] == "/api/sessions/this"
        body = await response.json()
    assert body["sessionId"] and "authenticated" not in body
    return body["sessionId"], base64.b64decode(body["nonce"])


async def put(http: aiohttp.ClientSession, suffix: str, authorization: str) -> int:
    async with http.put(f"/api/handles/{PREFIX}/{suffix}", json=RECORD,
                        headers={"Authorization": authorization}) as response:
        return response.status


async def test_public_key_session(http: aiohttp.ClientSession) -> None:
    session_id, nonce = await new_session(http)
    header = signed_header(session_id, nonce)
    async with http.put("/api/sessions/this", headers={"Authorization": header}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["authenticated"] is True and body["id"] == RSA_ID
    assert body["sessionId"] == session_id

    # later requests of the session carry only its id
    assert await put(http, "by-session", f'Handle sessionId="{session_id}"') == 201
    async with http.get("/api/sessions/this", headers=session_only(session_id)) as response:
        assert response.status == 200
        assert (await response.json())["id"] == RSA_ID

    # the nonce answered once: replaying the accepted signature is refused
    assert await put(http, "replayed", header) == 401
    # and a signature over one session's nonce proves nothing in another session
    other_id, _ = await new_session(http)
    replayed = header.replace(session_id, other_id)
    assert await put(http, "replayed", replayed) == 401

    async with http.delete("/api/sessions/this", headers=session_only(session_id)) as response:
        assert response.status == 204
    async with http.put(f"/api/handles/{PREFIX}/after-logout", json=RECORD,
                        headers=session_only(session_id)) as response:
        assert response.status == 401
        assert (await response.json())["responseCode"] == 403
    async with http.delete("/api/sessions/this", headers=session_only(session_id)) as response:
        assert response.status == 403


async def test_secret_key_answer_on_the_request_itself(http: aiohttp.ClientSession) -> None:
    session_id, nonce = await new_session(http)
    assert await put(http, "hmac", mac_header(session_id, nonce)) == 201
    async with http.get(f"/api/handles/{PREFIX}/hmac") as response:
        assert response.status == 200


async def test_challenge_without_session(http: aiohttp.ClientSession) -> None:
    unsigned = signed_header("x", b"not-the-nonce").replace('sessionId="x", ', "")
    async with http.put(f"/api/handles/{PREFIX}/challenged", json=RECORD,
                        headers={"Authorization": unsigned}) as response:
        assert response.status == 401
        challenge = next(c for c in response.headers.getall("WWW-Authenticate")
                         if c.startswith("Handle "))
    params = dict(part.strip().split("=", 1) for part in challenge[len("Handle "):].split(","))
    session_id, nonce = params["sessionId"].strip('"'), base64.b64decode(
        params["nonce"].strip('"'))
    assert await put(http, "challenged", signed_header(session_id, nonce)) == 201


async def test_bad_signatures_and_session_errors(http: aiohttp.ClientSession) -> None:
    session_id, nonce = await new_session(http)
    forged = signed_header(session_id, b"0" * 16)
    async with http.put("/api/sessions/this", headers={"Authorization": forged}) as response:
        assert response.status == 401
        body = await response.json()
    assert "authenticated" not in body and body["error"]
    # the nonce is spent even by a failed attempt: no guessing on one session
    assert await put(http, "late", signed_header(session_id, nonce)) == 401

    async with http.get("/api/sessions/this", headers=session_only("no-such")) as response:
        assert response.status == 403
    async with http.get("/api/sessions/other") as response:
        assert response.status == 403
    async with http.post("/api/sessions", headers=session_only(session_id)) as response:
        assert response.status == 400
    async with http.delete("/api/sessions/this") as response:
        assert response.status == 403
    async with http.post("/api/sessions", headers={
            "Authorization": basic(ADMIN_ID, SECRET)}) as response:
        assert response.status == 201
        body = await response.json()
    assert body["authenticated"] is True and body["id"] == ADMIN_ID
    assert await put(http, "basic-session", f'Handle sessionId="{body["sessionId"]}"') == 201


def _shared(database: HandleStore) -> Sessions:
    """What one process of a multi-process node keeps its REST sessions in."""
    return Sessions(DatabaseAuthState(database), HTTP, lifetime=HTTP_SESSION_SECONDS,
                    open_lifetime=HTTP_OPEN_SESSION_SECONDS)


@asynccontextmanager
async def two_processes(
    database: HandleStore, tmp_path: Path, a: Sessions, b: Sessions
) -> AsyncIterator[tuple[aiohttp.ClientSession, str, str]]:
    """Two server processes of one node, keeping their REST sessions in ``a`` and ``b``:
    a client and the base URL of each."""
    connector = aiohttp.TCPConnector(ssl=False)
    async with serve(database, tmp_path, sessions=a) as first, aiohttp.ClientSession(
        connector=connector
    ) as http:
        runner, port = await run_http_server(
            first.service, "127.0.0.1", 0, ssl_context=self_signed_context(tmp_path),
            sessions=b,
        )
        try:
            yield http, first.url, f"https://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


async def prove_session(
    http: aiohttp.ClientSession, opened_at: str, proven_at: str
) -> tuple[str, dict[str, str]]:
    """A session opened at one server, proven with the RSA key at another: its id and the
    header that proved it."""
    async with http.post(f"{opened_at}/api/sessions") as response:
        body = await response.json()
    session_id, nonce = body["sessionId"], base64.b64decode(body["nonce"])
    header = {"Authorization": signed_header(session_id, nonce)}
    async with http.put(f"{proven_at}/api/sessions/this", headers=header) as response:
        assert response.status == 200
        assert (await response.json())["id"] == RSA_ID
    return session_id, header


async def test_sessions_shared_through_the_registry(database: HandleStore, tmp_path: Path) -> None:
    """Two server processes of one node (or two hosts on one PostgreSQL): a session
    begun on one is honoured by the other, its nonce spent once for both."""
    store_a, store_b = _shared(database), _shared(database)
    async with two_processes(database, tmp_path, store_a, store_b) as (http, a, b):
        session_id, header = await prove_session(http, a, b)
        async with http.put(f"{a}/api/sessions/this", headers=header) as response:
            assert response.status == 401  # the nonce was spent on the other process
        async with http.put(f"{a}/api/handles/{PREFIX}/shared", json=RECORD,
                            headers=session_only(session_id)) as response:
            assert response.status == 201
        async with http.delete(f"{b}/api/sessions/this",
                               headers=session_only(session_id)) as response:
            assert response.status == 204
        async with http.get(f"{a}/api/sessions/this",
                            headers=session_only(session_id)) as response:
            assert response.status == 403
        assert await store_a.get(session_id) is None


async def test_creates_check_a_known_session_in_their_write(
    database: HandleStore, tmp_path: Path
) -> None:
    """A session this process read once is not read again before a create: the create
    checks it in its transaction (Sessions.use_guard), so ended on another process it
    refuses the create all the same (read again then: 401), and nothing is stored."""
    store_a, store_b = _shared(database), _shared(database)
    reads: list[str] = []
    read = store_a.get

    async def counted(session_id: str):  # type: ignore[no-untyped-def]
        reads.append(session_id)
        return await read(session_id)

    store_a.get = counted  # type: ignore[method-assign]
    async with two_processes(database, tmp_path, store_a, store_b) as (http, a, b):
        session_id, _ = await prove_session(http, b, b)
        for suffix in ("known-1", "known-2", "known-3"):
            async with http.put(f"{a}/api/handles/{PREFIX}/{suffix}", json=RECORD,
                                headers=session_only(session_id)) as response:
                assert response.status == 201
        assert reads == [session_id]  # the first create's read only
        async with http.delete(f"{b}/api/sessions/this",
                               headers=session_only(session_id)) as response:
            assert response.status == 204
        async with http.put(f"{a}/api/handles/{PREFIX}/known-4", json=RECORD,
                            headers=session_only(session_id)) as response:
            assert response.status == 401
        assert reads == [session_id, session_id]  # read again once refused
        assert await database.get_handle(f"{PREFIX}/known-4") is None
