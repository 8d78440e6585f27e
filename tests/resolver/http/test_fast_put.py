"""REST creates in a session answered at the connection: the same bytes, rows and
checks as aiohttp's answer, only for the simplest requests; refusals and anything
else answered by aiohttp; chunks that come meanwhile wait for the answer."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import aiohttp
import orjson
import pytest

from registry.store import HandleStore
from resolver.core.ratelimit import RateLimiter
from resolver.http import auth
from resolver.http.api import RestApi
from resolver.http.auth import HandleAuthHeader
from resolver.http.fast_put import FastPuts, SimplePut, simple_put, whole_message
from resolver.http.guard import HttpGuard
from tests.resolver.http.test_fast_rest import exchange, undated
from tests.resolver.http.test_rest_harness import ADMIN_ID, NA, PREFIX, serve
from tests.resolver.http.test_rest_sessions import mac_header

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
BODY = orjson.dumps([{"index": 1, "type": "URL", "data": "https://example.org/f"},
                     {"index": 100, "type": "HS_ADMIN",
                      "data": {"format": "admin", "value": {"handle": NA, "index": 300}}}])


def put_request(handle: str, session_id: str, body: bytes = BODY, *, extra: str = "") -> bytes:
    """A ``PUT`` as aiohttp's client sends it (one chunk: head and body)."""
    return (f"PUT /api/handles/{handle} HTTP/1.1\r\nHost: node\r\n"
            f'Authorization: Handle sessionId="{session_id}"\r\n'
            f"Content-Type: application/json\r\nAccept: */*\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@dataclass
class Node:
    port: int
    database: HandleStore
    session_id: str
    fast: list[tuple[str, bool]]  # (handle, answered here) of each request taken here


@pytest.fixture
async def node(database: HandleStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    async with _node(database, monkeypatch) as running:
        yield running


def _node(database: HandleStore, monkeypatch: pytest.MonkeyPatch,
          guard: HttpGuard | None = None) -> AbstractAsyncContextManager[Node]:
    """A node over ``database`` counting what is taken here, with a proven session."""
    fast: list[tuple[str, bool]] = []
    taken = FastPuts._put

    async def counted(self: FastPuts, put: SimplePut, *args: object) -> bool:
        answered = await taken(self, put, *args)  # type: ignore[arg-type]
        fast.append((put.handle, answered))
        return answered

    monkeypatch.setattr(FastPuts, "_put", counted)

    @asynccontextmanager
    async def running() -> AsyncIterator[Node]:
        async with serve(database, allow_insecure_auth=True,
                         **({"guard": guard} if guard else {})) as served:
            port = int(served.url.rsplit(":", 1)[1])
            async with aiohttp.ClientSession(served.url) as http:
                async with http.post("/api/sessions") as response:
                    body = await response.json()
                session_id, nonce = body["sessionId"], base64.b64decode(body["nonce"])
                async with http.put("/api/sessions/this", headers={
                        "Authorization": mac_header(session_id, nonce)}) as response:
                    assert response.status == 200
            yield Node(port, database, session_id, fast)

    return running()


def test_only_simple_puts_qualify() -> None:
    plain = put_request(f"{PREFIX}/a", "S1")
    assert simple_put(plain) == SimplePut(f"{PREFIX}/a", 'Handle sessionId="S1"', BODY)
    for other in (
        plain.replace(b"/a HTTP", b"/a?overwrite=false HTTP"),  # parameters
        plain.replace(b"/a HTTP", b"/a%20b HTTP"),  # something to decode
        plain.replace(b'sessionId="S1"', b'sessionId="S1", id="300:x", signature="AA"'),
        plain.replace(b'Handle sessionId="S1"', b"Basic eDp5"),
        plain.replace(b"Authorization: Handle sessionId=\"S1\"\r\n", b""),
        plain.replace(b"application/json", b"text/plain"),
        put_request(f"{PREFIX}/a", "S1", extra="Connection: close\r\n"),
        put_request(f"{PREFIX}/a", "S1", extra="Origin: https://a.example\r\n"),
        put_request(f"{PREFIX}/a", "S1", extra="Accept: x\r\n"),  # a header twice
        plain[:-1],  # the body not all there
        plain + plain,  # two requests
        plain.replace(b"PUT ", b"POST "),
    ):
        assert simple_put(other) is None, other
    assert whole_message(plain) and whole_message(b"POST /api/sessions HTTP/1.1\r\n"
                                                  b"Content-Length: 0\r\n\r\n")
    assert not whole_message(plain[:-1]) and not whole_message(plain + plain)
    assert not whole_message(put_request("x", "S", extra="Transfer-Encoding: chunked\r\n"))


def _same(fast: bytes, slow: bytes, names: tuple[str, str]) -> None:
    assert undated(fast) == undated(slow).replace(names[1].encode(), names[0].encode())


@SQLITE
async def test_a_create_answered_here_is_what_aiohttp_answers(node: Node) -> None:
    here, there = f"{PREFIX}/fast-1", f"{PREFIX}/slow-1"
    # a Connection header: aiohttp's; the plain request: answered here
    (slow,) = await exchange(node.port, put_request(there, node.session_id,
                                                    extra="Connection: keep-alive\r\n"))
    (fast,) = await exchange(node.port, put_request(here, node.session_id))
    assert node.fast == [(here, True)]
    assert fast.startswith(b"HTTP/1.1 201 Created\r\n")
    _same(fast, slow, (here, there))
    # again: replaced (200), here and by aiohttp
    (slow,) = await exchange(node.port, put_request(there, node.session_id,
                                                    extra="Connection: keep-alive\r\n"))
    (fast,) = await exchange(node.port, put_request(here, node.session_id))
    assert fast.startswith(b"HTTP/1.1 200 OK\r\n") and node.fast[-1] == (here, True)
    _same(fast, slow, (here, there))
    mine, theirs = [await node.database.get_handle(h) for h in (here, there)]
    assert mine is not None and theirs is not None and mine.values == theirs.values
    audit = [[(e.actor, e.action) for e in await node.database.audit_entries(handle=name)]
             for name in (here, there)]
    assert audit[0] == audit[1] and len(audit[0]) == 2 and audit[0][0] == (ADMIN_ID, "create")
    changed = [c.handle for c in await node.database.changes_since(0)]
    assert changed.count(here) == changed.count(there) == 2


@SQLITE
async def test_refused_creates_are_aiohttps_to_answer(node: Node) -> None:
    """Refused here, changing nothing: aiohttp answers them the usual way."""
    elsewhere = "99.999/fast-refused"  # a prefix the session's identity does not administer
    (refused,) = await exchange(node.port, put_request(elsewhere, node.session_id))
    assert refused.startswith(b"HTTP/1.1 403 ") and node.fast == [(elsewhere, False)]
    assert await node.database.get_handle(elsewhere) is None
    unknown = f"{PREFIX}/fast-unknown"
    (refused,) = await exchange(node.port, put_request(unknown, "no-such-session"))
    assert refused.startswith(b"HTTP/1.1 401 ") and b"WWW-Authenticate: " in refused
    assert b"unknown or expired session" in refused
    bad = f"{PREFIX}/fast-bad"
    (refused,) = await exchange(node.port, put_request(bad, node.session_id, b"[{]"))
    assert refused.startswith(b"HTTP/1.1 400 ") and b"Invalid JSON" in refused
    assert await node.database.get_handle(unknown) is None
    assert await node.database.get_handle(bad) is None
    ok = f"{PREFIX}/fast-after"  # the connection is still taken here afterwards
    (created,) = await exchange(node.port, put_request(ok, node.session_id))
    assert created.startswith(b"HTTP/1.1 201 ") and node.fast[-1] == (ok, True)


@SQLITE
async def test_chunks_during_a_create_wait_for_its_answer(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_now = RestApi.put_now

    async def slow(self: RestApi, *args: str) -> bool | None:
        await asyncio.sleep(0.3)
        return await put_now(self, *args)

    monkeypatch.setattr(RestApi, "put_now", slow)
    first = f"{PREFIX}/fast-first"

    def pipelined() -> bytes:
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
            sock.sendall(put_request(first, node.session_id))
            time.sleep(0.1)  # the create is under way
            sock.sendall(f"GET /api/handles/{first} HTTP/1.1\r\nHost: n\r\n\r\n".encode())
            data = b""
            while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"}"):
                data += sock.recv(65536)
            return data

    answers = await asyncio.to_thread(pipelined)
    created, _, read = answers.partition(b"}")
    assert created.startswith(b"HTTP/1.1 201 ") and b"HTTP/1.1 200 OK" in read
    assert b"https://example.org/f" in read  # read after the create, as sent


@SQLITE
async def test_a_create_refused_here_counts_once_in_the_rate_limit(
    database: HandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = HttpGuard(RateLimiter(0.001, 4))  # the session takes two of the four
    async with _node(database, monkeypatch, guard) as running:
        requests = [put_request("99.999/x", running.session_id),  # refused, then aiohttp's
                    put_request(f"{PREFIX}/rl", running.session_id),
                    put_request(f"{PREFIX}/rl-2", running.session_id)]
        answers = [a for r in requests for a in await exchange(running.port, r)]
    assert [re.split(rb" ", a, maxsplit=2)[1] for a in answers] == [b"403", b"201", b"429"]


@pytest.mark.parametrize("header", [
    'Handle sessionId="abc"', ' handle  SESSIONID = "a-b_c=" ', "Handle sessionId=tok",
    'Handle \tsessionId="x"\r\n', 'Handle\tsessionId="x"', 'Handle sessionId="a\\"b"',
    'Handle sessionId="x",', 'Handle sessionId="x", id="300%3A0.NA%2Fp"',
    'Handle \u017fessionId="x"', 'Handle sessionId=""', 'Handle sessionId="x y"', "Basic eDp5",
])
def test_a_bare_session_header_reads_as_any_other(
    header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session-only header a create carries is read without the parameter loop, to
    the same result."""
    fast = HandleAuthHeader.parse(header)
    monkeypatch.setattr(auth, "_SESSION_ONLY", re.compile("(?!)"))
    assert fast == HandleAuthHeader.parse(header)
