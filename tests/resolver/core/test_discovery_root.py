"""A node finds the root through DNS SRV records and resolves recursively through it.

The root, the secondary node and the enterprise node of test_recursive run in
process; a tiny authoritative DNS server (test_discovery's ZoneServer) announces
the root under ``test.``; a fresh node started with ``resolver.node.start_node``
and only ``discovery_domain``/``discovery_nameserver`` configured walks from that
root down to the enterprise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import dns.zone
import pytest

from protocol.constants import RC_SUCCESS
from registry.config import ConfigError, NodeConfig
from resolver.core.root_finder import find_root_address, parse_nameserver
from resolver.node import start_node
from tests.resolver.core.test_discovery import ZoneServer
from tests.resolver.core.test_recursive import PUMP, World, running_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as started:
        yield started


async def announce(root_port: int) -> tuple[asyncio.DatagramTransport, int]:
    zone = dns.zone.from_text(
        f"""
$ORIGIN test.
$TTL 60
@            SOA ns hostmaster 1 60 60 600 60
@            NS  ns
_handle._udp SRV 10 1 {root_port} 127.0.0.1.
_handle._tcp SRV 10 1 {root_port} 127.0.0.1.
""",
        origin="test.",
        relativize=False,
    )
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: ZoneServer(zone), local_addr=("127.0.0.1", 0)
    )
    return transport, transport.get_extra_info("sockname")[1]


def stranger_config(tmp_path: Path, dns_port: int) -> NodeConfig:
    return NodeConfig(
        data_dir=tmp_path / "stranger",
        prefixes=("99",),
        handle_port=0,
        http_port=0,
        discovery_domain="test.",
        discovery_nameserver=f"127.0.0.1:{dns_port}",
        upstream_allow=("127.0.0.0/8",),  # the world's nodes are on loopback
    )


async def test_the_node_reaches_the_root_announced_in_dns(world: World, tmp_path: Path) -> None:
    transport, dns_port = await announce(world.root.server.port)
    try:
        config = stranger_config(tmp_path, dns_port)
        assert await find_root_address(config) == world.root.name
        node = await start_node(config)
        try:
            answer = await node.service.resolve(PUMP, recursive=True)
        finally:
            await node.close()
    finally:
        transport.close()
    assert answer.response_code == RC_SUCCESS
    assert answer.source == world.enterprise.name
    assert answer.chain[0] == f"0.NA/88.118.9@{world.root.name}"


async def test_configured_root_wins_and_silence_means_no_root(tmp_path: Path) -> None:
    config = stranger_config(tmp_path, 9)  # nothing answers DNS on port 9
    assert await find_root_address(config) == ""
    pinned = NodeConfig(root_address="127.0.0.1:2641", discovery_domain="test.")
    assert await find_root_address(pinned) == "127.0.0.1:2641"


def test_nameserver_forms() -> None:
    assert parse_nameserver("") == (None, 53)
    assert parse_nameserver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    with pytest.raises(ConfigError, match="discovery_nameserver"):
        parse_nameserver("127.0.0.1:x")
