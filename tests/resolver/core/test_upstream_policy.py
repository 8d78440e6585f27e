"""Issue 18 F8 and the recursion part of F16: a tenant-written HS_SITE cannot steer the
node's recursion at any host and port, make one request fan out, learn what answered
there, or smuggle lines through a client-chosen name; recursion is for allowed clients.

The "upstream" is a counting server on loopback that answers every datagram and
connection with four junk bytes; the tests count what reaches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from protocol.constants import (
    RC_ERROR,
    RC_INVALID_HANDLE,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
)
from protocol.values import HandleValue
from registry.bootstrap import delegate_prefix
from registry.config import LOCAL_NETWORKS, ConfigError, NodeConfig, load_config
from registry.store import HandleStore
from resolver.core.assembly import build_service
from resolver.core.client import HandleClient
from resolver.core.model import ServiceError
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.core.trace import Tracer
from resolver.core.upstream import UpstreamPolicy, in_networks, parse_networks
from resolver.handle.server import run_handle_server

HOST = "127.0.0.1"
JUNK = b"\xde\xad\xbe\xef"
SERVERS = 8  # servers the tenant's HS_SITE lists (each tried over UDP and TCP)
LIMIT = 5
DELEGATED = "88.118.9"


@dataclass
class Upstream:
    """Counts datagrams and connections; answers each with JUNK."""

    port: int = 0
    datagrams: int = 0
    connections: int = 0
    closers: list[asyncio.BaseTransport] = field(default_factory=list)

    @property
    def contacts(self) -> int:
        return self.datagrams + self.connections


class _Junk(asyncio.DatagramProtocol):
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.upstream.datagrams += 1
        assert self.transport is not None
        self.transport.sendto(JUNK, addr)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    found = Upstream()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        found.connections += 1
        writer.write(JUNK)
        await writer.drain()
        writer.close()

    tcp = await asyncio.start_server(accept, HOST, 0)
    found.port = tcp.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(
        lambda: _Junk(found), local_addr=(HOST, found.port)
    )
    try:
        yield found
    finally:
        udp.close()
        tcp.close()
        await tcp.wait_closed()


async def _service(tmp_path: Path, port: int, **settings: object) -> ResolutionService:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'node.db'}")
    await store.create_prefix("88.118")
    site = site_info_value(build_site_info([(HOST, port)] * SERVERS))
    await delegate_prefix(store, DELEGATED, site, node_prefix="88.118", owner=None, actor="t")
    config = NodeConfig(data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    return await build_service(store, config, site_info=None, hop_timeout=2.0)


async def _failure(service: ResolutionService, handle: str) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await service.resolve(handle, recursive=True)
    return caught.value


async def test_referral_to_a_private_address_is_not_followed_by_default(
    tmp_path: Path, upstream: Upstream
) -> None:
    service = await _service(tmp_path, upstream.port)
    try:
        error = await _failure(service, f"{DELEGATED}/PUMP")
    finally:
        await service.close()
        await service.store.close()
    assert upstream.contacts == 0  # not one packet to a loopback address
    assert error.response_code == RC_ERROR


async def test_one_request_opens_at_most_max_upstream_connections(
    tmp_path: Path, upstream: Upstream
) -> None:
    service = await _service(tmp_path, upstream.port, upstream_allow=("127.0.0.0/8",),
                             max_upstream_connections=LIMIT)
    try:
        await _failure(service, f"{DELEGATED}/PUMP")
    finally:
        await service.close()
        await service.store.close()
    assert 0 < upstream.contacts <= LIMIT  # the site offered 2 x SERVERS routes


async def test_a_trace_has_one_budget_for_all_its_parts(tmp_path: Path, upstream: Upstream) -> None:
    service = await _service(tmp_path, upstream.port, upstream_allow=("127.0.0.0/8",))
    parts = [HandleValue(i, "TRACE.COMPONENT", f"{DELEGATED}/PART-{i}".encode())
             for i in range(1, 7)]
    await service.store.create_handle("88.118.8/TV-0001", parts, actor="t")
    try:
        answer = await Tracer(service, max_upstream_connections=LIMIT).trace(
            "88.118.8/TV-0001", direction="down", depth=1
        )
    finally:
        await service.close()
        await service.store.close()
    assert answer["responseCode"] == RC_SUCCESS and len(answer["down"]["children"]) == 6
    assert 0 < upstream.contacts <= LIMIT  # six parts, 16 routes each, one budget


async def test_upstream_failures_say_the_same_whatever_answered(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Junk bytes, a closed port: the client learns neither which nor what was sent."""
    closed = await asyncio.start_server(lambda r, w: None, HOST, 0)
    closed_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    messages = []
    for number, port in enumerate((upstream.port, closed_port)):
        folder = tmp_path / str(number)
        folder.mkdir()
        service = await _service(folder, port, upstream_allow=("127.0.0.0/8",))
        try:
            messages.append(str(await _failure(service, f"{DELEGATED}/PUMP")))
        finally:
            await service.close()
            await service.store.close()
    assert upstream.contacts > 0
    assert messages[0] == messages[1]
    assert "dead" not in messages[0].lower() and "\\x" not in messages[0]
    assert "refused" not in messages[0].lower()


async def test_names_with_control_characters_are_not_sent_upstream(
    tmp_path: Path, upstream: Upstream
) -> None:
    service = await _service(tmp_path, upstream.port, upstream_allow=("127.0.0.0/8",))
    try:
        error = await _failure(service, f"{DELEGATED}/x\r\nGET / HTTP/1.1\r\nHost: a")
    finally:
        await service.close()
        await service.store.close()
    assert error.response_code == RC_INVALID_HANDLE and upstream.contacts == 0


async def test_handle_recursion_only_for_allowed_clients(
    tmp_path: Path, upstream: Upstream
) -> None:
    service = await _service(tmp_path, upstream.port, upstream_allow=("127.0.0.0/8",))
    server = await run_handle_server(service, HOST, 0, recursion_allow=["10.0.0.0/8"])
    try:
        answer = await HandleClient(udp=False, timeout=5).resolve(
            f"{DELEGATED}/PUMP", server=(HOST, server.port), recursive=True
        )
    finally:
        await server.close()
        await service.close()
        await service.store.close()
    assert answer.response_code == RC_SERVICE_REFERRAL  # referred, not recursed for it
    assert upstream.contacts == 0


def test_policy_defaults_and_config_keys() -> None:
    policy = UpstreamPolicy()
    assert [policy.permits(h) for h in ("8.8.8.8", "2001:4860::8888")] == [True, True]
    refused = ("127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
               "fd00::1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::ffff:127.0.0.1", "localhost")
    assert not any(policy.permits(h) for h in refused)
    assert UpstreamPolicy(["10.0.0.0/8"]).permits("10.9.9.9")
    root = UpstreamPolicy(trusted=[("root.example", 2641), ("127.0.0.1", 2641)])
    assert root.permits("root.example", 2641) and root.permits("127.0.0.1", 2641)
    assert not root.permits("127.0.0.1", 22)  # the root's host, another service
    local = parse_networks(LOCAL_NETWORKS)
    assert in_networks("192.168.3.4", local) and not in_networks("8.8.8.8", local)
    assert NodeConfig().upstream_allow == () and NodeConfig().recursion_allow == LOCAL_NETWORKS
    config = load_config(environ={"IDNODE_UPSTREAM_ALLOW": "10.0.0.0/8, ::1",
                                  "IDNODE_MAX_UPSTREAM_CONNECTIONS": "7"})
    assert config.upstream_allow == ("10.0.0.0/8", "::1")
    assert config.max_upstream_connections == 7
    for key, value in (("upstream_allow", "10.0.0.0/33"), ("recursion_allow", "nowhere"),
                       ("max_upstream_connections", "0")):
        with pytest.raises(ConfigError, match=key):
            load_config(environ={f"IDNODE_{key.upper()}": value})
