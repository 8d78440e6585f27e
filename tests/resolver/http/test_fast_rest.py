"""Simple reads of kept bodies answered at the connection: the same bytes aiohttp
sends, only for the simplest requests, under the rate limit, dropped by a write."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.model import Caller
from resolver.core.ratelimit import RateLimiter
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack
from resolver.http.api import run_http_server
from resolver.http.fast_rest import FastReads, simple_read
from resolver.http.guard import HttpGuard
from tests.resolver.http.test_hot_rest import counted_resolutions
from tests.resolver.http.test_rest_harness import NA, TV, seed

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
PLAIN = f"GET /api/handles/{TV} HTTP/1.1\r\nHost: node\r\nAccept: */*\r\n\r\n".encode()


@dataclass
class Node:
    port: int
    service: ResolutionService
    resolutions: list[str]
    fast: list[str]  # the handles answered at the connection


async def _node(database: HandleStore, monkeypatch: pytest.MonkeyPatch,
                guard: HttpGuard | None = None) -> tuple[web.AppRunner, Node]:
    await seed(database)
    fast: list[str] = []
    answer = FastReads.answer

    def counting_fast(self: FastReads, data: bytes, transport: asyncio.Transport,
                      inner: object) -> bool:
        answered = answer(self, data, transport, inner)
        if answered:
            fast.append(str(simple_read(data)))
        return answered

    monkeypatch.setattr(FastReads, "answer", counting_fast)
    service = ResolutionService(database, server_admins=[(NA, 300)],
                                answers=ResolutionStack(database))
    resolutions = counted_resolutions(service)
    runner, port = await run_http_server(service, "127.0.0.1", 0, guard=guard)
    return runner, Node(port, service, resolutions, fast)


@pytest.fixture
async def node(database: HandleStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    runner, running = await _node(database, monkeypatch)
    try:
        yield running
    finally:
        await runner.cleanup()


def _exchange(port: int, requests: list[bytes]) -> list[bytes]:
    """Each request's whole answer, one after the other on one connection."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for request in requests:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += sock.recv(65536)
            answers.append(head + b"\r\n\r\n" + body)
    return answers


async def exchange(port: int, *requests: bytes) -> list[bytes]:
    return await asyncio.to_thread(_exchange, port, list(requests))


def undated(answer: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", answer)


def test_only_the_simplest_requests_qualify() -> None:
    assert simple_read(PLAIN) == TV
    head = f"GET /api/handles/{TV} HTTP/1.1\r\n"
    declined = [
        PLAIN + PLAIN,                                           # two requests in one chunk
        PLAIN[:-2],                                              # incomplete
        f"GET /api/handles/{TV}?type=URL HTTP/1.1\r\nHost: n\r\n\r\n",
        "GET /api/handles/88.118.8/T%56 HTTP/1.1\r\nHost: n\r\n\r\n",
        "GET /api/handles/88.118.8/../X HTTP/1.1\r\nHost: n\r\n\r\n",
        f"HEAD /api/handles/{TV} HTTP/1.1\r\nHost: n\r\n\r\n",
        f"GET /api/handles/{TV} HTTP/1.0\r\nHost: n\r\n\r\n",
        head + "Host: n\r\nAuthorization: Handle sessionId=x\r\n\r\n",
        head + "Host: n\r\norigin: https://a.example\r\n\r\n",
        head + "Host: n\r\nIf-None-Match: \"x\"\r\n\r\n",
        head + "Host: n\r\nConnection: close\r\n\r\n",
        head + "Host: n\r\nHost: m\r\n\r\n",                     # a header twice
        head + "Host: n\r\n folded\r\n\r\n",
        head + "Bad Name: n\r\n\r\n",
        head + "Host: n\x00\r\n\r\n",
        head + "X-Pad: " + "p" * 5000 + "\r\n\r\n",
    ]
    for request in declined:
        data = request if isinstance(request, bytes) else request.encode()
        assert simple_read(data) is None, request


@SQLITE
async def test_a_fast_answer_is_the_bytes_aiohttp_sends(node: Node) -> None:
    (first,) = await exchange(node.port, PLAIN)  # fills the cache
    await exchange(node.port, PLAIN)  # keeps the body
    fast, again = await exchange(node.port, PLAIN, PLAIN)  # answered at the connection
    assert node.resolutions == [TV, TV] and node.fast == [TV, TV]
    # a Connection header first: the connection is aiohttp's from then on
    keep_alive = PLAIN.replace(b"Accept:", b"Connection: keep-alive\r\nAccept:")
    _, by_aiohttp = await exchange(node.port, keep_alive, PLAIN)
    assert node.fast == [TV, TV]
    assert fast.startswith(b"HTTP/1.1 200 OK\r\n") and b'"values"' in fast
    assert undated(fast) == undated(again) == undated(by_aiohttp) == undated(first)


@SQLITE
async def test_a_connection_comes_back_once_aiohttp_answered_whole_requests(node: Node) -> None:
    query = f"GET /api/handles/{TV}?type=URL HTTP/1.1\r\nHost: node\r\n\r\n".encode()
    await exchange(node.port, PLAIN, PLAIN, query, PLAIN)  # miss, keep, aiohttp, fast
    assert node.fast == [TV]


def _split_then_plain(port: int) -> bytes:
    """A request sent in two pieces, then a plain one, on one connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(PLAIN[:20])
        time.sleep(0.2)
        sock.sendall(PLAIN[20:])
        time.sleep(0.2)
        sock.sendall(PLAIN)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
        return data


@SQLITE
async def test_a_request_in_pieces_leaves_the_connection_to_aiohttp(node: Node) -> None:
    for _ in range(2):
        await exchange(node.port, PLAIN)
    answers = await asyncio.to_thread(_split_then_plain, node.port)
    assert answers.count(b"HTTP/1.1 200 OK") == 2 and node.fast == []


@SQLITE
async def test_a_write_drops_what_the_fast_answers_come_from(node: Node) -> None:
    for _ in range(3):
        await exchange(node.port, PLAIN)
    new = HandleValue(1, "URL", b"https://example.test/tv/fast")
    await node.service.modify_values(TV, [new], caller=Caller(NA, 300))
    (answer,) = await exchange(node.port, PLAIN)
    assert b"https://example.test/tv/fast" in answer and node.resolutions[-1] == TV
    assert node.fast == [TV]  # before the write only


@SQLITE
async def test_requests_asking_more_are_answered_by_aiohttp(node: Node) -> None:
    for _ in range(2):
        await exchange(node.port, PLAIN)
    with_origin = PLAIN.replace(b"Accept:", b"Origin: https://a.example\r\nAccept:")
    (answer,) = await exchange(node.port, with_origin)
    assert b"Access-Control-Allow-Origin: *" in answer and node.fast == []


@SQLITE
async def test_the_rate_limit_applies_to_fast_answers(database: HandleStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runner, running = await _node(database, monkeypatch, HttpGuard(RateLimiter(0.001, 3)))
    try:
        answers = [a for _ in range(4) for a in await exchange(running.port, PLAIN)]
    finally:
        await runner.cleanup()
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"200", b"200", b"429"]
    assert running.fast == [TV]  # the third: the first two filled the cache and kept the body
