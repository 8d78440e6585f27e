"""An enterprise node that hangs: it accepts and never answers.

The node delegates ``88.118.9`` to a "server" whose TCP listener accepts
connections and reads forever and whose UDP socket swallows every datagram.
Many concurrent recursive resolutions of distinct ``88.118.9/...`` handles
(Handle UDP, Handle TCP, REST) each end within a bounded time with RC_ERROR
and a message naming the handle; afterwards the node (run in this process)
has no more asyncio tasks and open file descriptors than before, and every
connection it opened to the hanging peer is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocol.constants import RC_ERROR
from registry.bootstrap import delegate_prefix
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError
from resolver.core.recursive import DEFAULT_HOP_TIMEOUT
from resolver.core.site import build_site_info, site_info_value
from resolver.node import RunningNode, start_node

PER_TRANSPORT = 12
#: UDP asks, is answered RC_ERROR after one hop timeout, and asks again over TCP
BOUND = 2 * DEFAULT_HOP_TIMEOUT + 5.0
SLACK = 3


class HangingPeer:
    """A TCP listener that accepts and never answers, and a UDP socket that never replies."""

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        self.closed_by_node = 0
        self.datagrams = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.server: asyncio.Server | None = None

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        self.closed_by_node += 1
        writer.close()

    async def start(self) -> int:
        """Listen on one port for TCP and UDP; the port."""
        self.server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)
        port = int(self.server.sockets[0].getsockname()[1])
        self.udp.bind(("127.0.0.1", port))
        self.udp.setblocking(False)
        asyncio.get_running_loop().add_reader(self.udp.fileno(), self._drain)
        return port

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.udp.recv(65536)
            self.datagrams += 1

    async def close(self) -> None:
        """Stop listening and drop what is still connected."""
        asyncio.get_running_loop().remove_reader(self.udp.fileno())
        self.udp.close()
        for writer in self.connections:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def hanging() -> AsyncIterator[tuple[HangingPeer, int]]:
    """The hanging peer and its port."""
    peer = HangingPeer()
    port = await peer.start()
    yield peer, port
    await peer.close()


@pytest.fixture
async def node(tmp_path: Path, hanging: tuple[HangingPeer, int]) -> AsyncIterator[RunningNode]:
    """A node (in this process) delegating 88.118.9 to the hanging peer."""
    config = NodeConfig(data_dir=tmp_path / "node", handle_port=0, http_port=0, dns_port=0,
                        upstream_allow=("127.0.0.0/8",),  # the enterprise is on loopback
                        max_connections_per_client=0)  # one test process plays many clients
    store = await HandleStore.open(config.effective_database_url)
    try:
        site = site_info_value(build_site_info([("127.0.0.1", hanging[1])]))
        await delegate_prefix(store, "88.118.9", site, node_prefix="88.118", owner=None,
                              actor="test")
    finally:
        await store.close()
    running = await start_node(config)
    yield running
    await running.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _handle(udp: bool, name: str, address: tuple[str, int]) -> tuple[int, str]:
    client = HandleClient(timeout=BOUND, attempts=1, udp=udp)
    try:
        await client.resolve(name, server=address)
    except HandleClientError as exc:
        return exc.response_code, exc.message
    return 0, "answered"


async def _rest(http: aiohttp.ClientSession, name: str) -> tuple[int, str]:
    async with http.get(f"/api/handles/{name}") as response:
        body = await response.json()
    return int(body["responseCode"]), str(body.get("message", ""))


async def test_hanging_enterprise_gives_bounded_errors_and_no_pile_up(
    node: RunningNode, hanging: tuple[HangingPeer, int]
) -> None:
    peer, _port = hanging
    address = ("127.0.0.1", node.handle_port)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{node.http_port}",
                                     connector=aiohttp.TCPConnector(force_close=True),
                                     timeout=aiohttp.ClientTimeout(total=BOUND)) as http:
        # as many concurrent local lookups first: the registry's connection pool grows to fit
        await asyncio.gather(*(_rest(http, f"88.118.8/warm-{i}") for i in range(3 * PER_TRANSPORT)))
        tasks_before, fds_before = len(asyncio.all_tasks()), _open_fds()
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(_handle(True, f"88.118.9/udp-{i}", address) for i in range(PER_TRANSPORT)),
            *(_handle(False, f"88.118.9/tcp-{i}", address) for i in range(PER_TRANSPORT)),
            *(_rest(http, f"88.118.9/rest-{i}") for i in range(PER_TRANSPORT)),
        )
        elapsed = time.monotonic() - started
        for (code, message), name in zip(outcomes, [f"{t}-{i}" for t in ("udp", "tcp", "rest")
                                                    for i in range(PER_TRANSPORT)], strict=True):
            assert code == RC_ERROR, (name, code, message)
            assert f"88.118.9/{name}" in message, message
        assert elapsed < BOUND + 5.0
        assert peer.connections and peer.datagrams, "the node did ask the hanging peer"

        for _ in range(100):  # up to 10 s for closing connections to finish
            if (len(asyncio.all_tasks()) <= tasks_before + SLACK
                    and _open_fds() <= fds_before + SLACK
                    and peer.closed_by_node == len(peer.connections)):
                break
            await asyncio.sleep(0.1)
        assert len(asyncio.all_tasks()) <= tasks_before + SLACK, asyncio.all_tasks()
        assert _open_fds() <= fds_before + SLACK, " ".join(_describe_fds())
        assert peer.closed_by_node == len(peer.connections), "connections to the peer left open"


def _describe_fds() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(found)
