"""Issue 18 F7: idle connections from one client cannot take a TCP front end, and a
TLS handshake that never starts is cut off.

Two clients on loopback: 127.0.0.1 (the hoarder) and 127.0.0.2 (everyone else,
by binding the client socket to that source address).  What is counted is
connections: which are closed at once, which are served.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocol.constants import RC_SUCCESS
from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.connections import ConnectionGate
from resolver.core.service import ResolutionService
from resolver.http.api import run_http_server
from resolver.http.guard import HttpGuard
from resolver.node import RunningNode, start_node
from tests.resolver.http.test_rest_harness import self_signed_context
from tests.resolver.test_abuse import HOST, SMALL, _request, _tcp_ask

OTHER = "127.0.0.2"
PER_CLIENT = 4


async def _hold(port: int, count: int, source: str = HOST) -> list[asyncio.StreamWriter]:
    """``count`` idle connections from ``source`` (each checked open: the server did not
    close it at once)."""
    held = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
        held.append(writer)
        assert not await _closed_at_once(reader)
    return held


async def _closed_at_once(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection without a word (within a bounded wait)."""
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(reader.read(1), 0.3) == b""
    return False


async def _one_more_is_closed(port: int) -> bool:
    """Whether one more connection from HOST is closed at once."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        return await _closed_at_once(reader)
    finally:
        writer.close()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    config = NodeConfig(data_dir=tmp_path / "node", handle_port=0, http_port=0,
                        max_connections_per_client=PER_CLIENT, max_tcp_connections=64,
                        max_http_connections=64)
    running = await start_node(config)
    await running.store.create_prefix(config.prefixes[0])  # a node holds its prefix
    await running.store.create_handle(SMALL, [HandleValue(1, "URL", b"https://x")], actor="t")
    try:
        yield running
    finally:
        await running.close()


async def test_handle_tcp_connections_are_capped_per_client(node: RunningNode) -> None:
    held = await _hold(node.handle_port, PER_CLIENT)
    try:
        over = await _one_more_is_closed(node.handle_port)
        reader, writer = await asyncio.open_connection(
            HOST, node.handle_port, local_addr=(OTHER, 0)
        )
        other = await _tcp_ask(reader, writer, _request(SMALL, 1))
        writer.close()
    finally:
        for writer in held:
            writer.close()
    assert over  # the hoarder's next connection is closed at once
    assert other.response_code == RC_SUCCESS  # everyone else is still served


async def test_http_connections_are_capped_per_client(node: RunningNode) -> None:
    held = await _hold(node.http_port, PER_CLIENT)
    try:
        over = await _one_more_is_closed(node.http_port)
        url = f"http://{HOST}:{node.http_port}/api/handles/{SMALL}"
        connector = aiohttp.TCPConnector(local_addr=(OTHER, 0))
        async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as r:
            other = r.status
    finally:
        for writer in held:
            writer.close()
    assert over and other == 200


async def test_http_connections_are_capped_in_all(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    guard = HttpGuard(max_connections=3)
    runner, port = await run_http_server(ResolutionService(store), HOST, 0, guard=guard)
    try:
        held = await _hold(port, 3, OTHER)
        over = await _one_more_is_closed(port)
        for one in held:
            one.close()
        for _ in range(50):  # the server sees the closes and frees the slots
            async with aiohttp.ClientSession() as session:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://{HOST}:{port}/healthz") as response:
                        if response.status == 200:
                            break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the closed connections' slots were never freed")
    finally:
        await runner.cleanup()
        await store.close()
    assert over


async def test_tls_handshake_that_never_starts_is_cut_off(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    context = self_signed_context(tmp_path)
    guard = HttpGuard(tls_handshake_timeout=0.3)
    runner, port = await run_http_server(
        ResolutionService(store), HOST, 0, guard=guard, ssl_context=context
    )
    gate: ConnectionGate | None = None
    try:
        reader, writer = await asyncio.open_connection(HOST, port)  # and says nothing
        closed = await asyncio.wait_for(reader.read(1), 10)  # the 60 s default would be hit
        writer.close()
        client = aiohttp.TCPConnector(ssl=False)
        url = f"https://{HOST}:{port}/healthz"
        async with aiohttp.ClientSession(connector=client) as session, session.get(url) as resp:
            served = resp.status
        gate = runner.sites and getattr(next(iter(runner.sites)), "gate", None)
    finally:
        await runner.cleanup()
        await store.close()
    assert closed == b"" and served == 200
    assert gate is not None and gate.held_by(HOST) <= 1  # the cut-off one gave its slot back


def test_connection_gate_counts_per_client_and_in_all() -> None:
    gate = ConnectionGate(total=3, per_client=2)
    first, second = gate.admit("10.0.0.1"), gate.admit("10.0.0.1")
    assert first and second and gate.admit("10.0.0.1") is None
    v6 = gate.admit("2001:db8::1")
    assert v6 is not None and gate.admit("2001:db8::2") is None  # the total, too
    gate.release(v6)
    assert gate.admit("2001:db8::2") is not None
    assert gate.admit("2001:db8::3") is None
    gate.release(first)
    assert gate.held_by("10.0.0.1") == 1 and gate.open == 2
