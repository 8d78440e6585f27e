"""Node discovery through SRV/URI records served by a tiny local dnspython authoritative server."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from resolver.core.discovery import ServiceEndpoint, discover, rfc2782_order

HOST = "127.0.0.1"
FALLBACK = [ServiceEndpoint("_handle._tcp", "root.fallback", 2641)]


def _zone_text(handle_port: int) -> str:
    return f"""
$ORIGIN test.
$TTL 60
@            SOA ns hostmaster 1 60 60 600 60
@            NS  ns
_handle._tcp SRV 10 5 {handle_port} 127.0.0.1.
_handle._tcp SRV 20 0 2641 backup.test.
_handle._udp SRV 10 1 {handle_port} 127.0.0.1.
_http._tcp   SRV 0 0 0 .
_http._tcp   URI 10 1 "http://127.0.0.1:8080/api"
_http._tcp   URI 20 1 "mailto:nobody"
"""


class ZoneServer(asyncio.DatagramProtocol):
    """Answers UDP queries from one dnspython zone (NXDOMAIN for names it lacks)."""

    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        node = self.zone.get_node(question.name)
        rdataset = node.get_rdataset(self.zone.rdclass, question.rdtype) if node else None
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif rdataset is not None:
            response.find_rrset(
                response.answer, question.name, rdataset.rdclass, rdataset.rdtype, create=True
            ).update(rdataset)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_port() -> AsyncIterator[int]:
    zone = dns.zone.from_text(_zone_text(12641), origin="test.", relativize=False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: ZoneServer(zone), local_addr=(HOST, 0)
    )
    yield transport.get_extra_info("sockname")[1]
    transport.close()


async def test_discovery_returns_the_announced_endpoints(dns_port: int) -> None:
    found = await discover(
        "test.", nameserver=HOST, port=dns_port, fallback=FALLBACK, rng=random.Random(7)
    )
    assert found == [
        ServiceEndpoint("_handle._udp", HOST, 12641, 10, 1, "srv"),
        ServiceEndpoint("_handle._tcp", HOST, 12641, 10, 5, "srv"),
        ServiceEndpoint("_handle._tcp", "backup.test", 2641, 20, 0, "srv"),
        ServiceEndpoint("_http._tcp", HOST, 8080, 10, 1, "uri", "http://127.0.0.1:8080/api"),
    ]


async def test_discovery_falls_back_when_dns_has_nothing(dns_port: int) -> None:
    found = await discover("elsewhere.test.", nameserver=HOST, port=dns_port, fallback=FALLBACK)
    assert found == FALLBACK


async def test_discovery_falls_back_when_the_server_is_down() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        closed_port = probe.getsockname()[1]
    found = await discover(
        "test.", nameserver=HOST, port=closed_port, fallback=FALLBACK, lifetime=0.5
    )
    assert found == FALLBACK


async def test_discovery_falls_back_when_the_nameserver_is_no_address() -> None:
    assert await discover("test.", nameserver="not-an-address", fallback=FALLBACK) == FALLBACK


def _endpoint(priority: int, weight: int, host: str) -> ServiceEndpoint:
    return ServiceEndpoint("_handle._tcp", host, 2641, priority, weight, "srv")


def test_rfc2782_order_keeps_priorities_and_follows_weights() -> None:
    rng = random.Random(1)
    records = [_endpoint(20, 1, "late"), _endpoint(10, 0, "idle"), _endpoint(10, 99, "busy")]
    firsts = [rfc2782_order(records, rng)[0].host for _ in range(200)]
    orders = {tuple(e.host for e in rfc2782_order(records, rng)) for _ in range(200)}
    assert orders == {("busy", "idle", "late"), ("idle", "busy", "late")}
    assert firsts.count("busy") > firsts.count("idle")
