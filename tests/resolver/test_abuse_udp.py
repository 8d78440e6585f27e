"""Issue 18 F6, F14, F16: UDP reflection and amplification against nodes started from
NodeConfig (the defaults, or a tiny budget), over real sockets on loopback.

Each test counts bytes and datagrams, never time: a short pause only lets
datagrams that would be sent arrive before they are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from protocol.constants import RC_ERROR, RC_SUCCESS
from protocol.envelope import decode_envelope
from protocol.framing import UdpReassembler, decode_packet, encode_udp
from protocol.message import decode_message
from protocol.values import HandleValue
from registry.config import NodeConfig
from resolver.core.client import HandleClient
from resolver.dns.names import handle_to_name
from resolver.handle.amplification import USE_TCP
from resolver.node import RunningNode, start_node
from tests.resolver.test_abuse import HOST, _free_port, _request, _udp_socket

BIG = "88.118.8/BIG"  # ~3.8 KB: under the 4096-byte floor, far over 16 x a request
SMALL = "88.118.8/TV-0001"
BURST = 3
SETTLE = 0.3  # seconds for datagrams already sent to arrive before they are counted


async def _node(tmp_path: Path, **settings: object) -> RunningNode:
    config = NodeConfig(data_dir=tmp_path / "node", handle_port=0, http_port=0, **settings)
    node = await start_node(config)
    await node.store.create_prefix(config.prefixes[0])  # a node holds its prefix
    big = [HandleValue(i, "NOTE", b"n" * 400) for i in range(1, 10)]
    await node.store.create_handle(BIG, big, actor="test")
    small = [HandleValue(1, "URL", b"https://example.com/tv/0001")]
    await node.store.create_handle(SMALL, small, actor="test")
    return node


@pytest.fixture
async def default_node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    node = await _node(tmp_path)
    try:
        yield node
    finally:
        await node.close()


@pytest.fixture
async def stingy_node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    """BURST requests per client and front end, then (practically) no refill."""
    node = await _node(tmp_path, rate_limit=0.001, rate_burst=BURST, dns_port=_free_port())
    try:
        yield node
    finally:
        await node.close()


async def _udp_exchange(port: int, handle: str, request_id: int) -> tuple[int, list[bytes]]:
    """(request bytes, reply datagrams) of one UDP resolution request."""
    transport, protocol = await _udp_socket(port)
    try:
        request = encode_udp(_request(handle, request_id))
        for datagram in request:
            transport.sendto(datagram)
        replies = [await asyncio.wait_for(protocol.received.get(), 5)]
        await asyncio.sleep(SETTLE)
        while not protocol.received.empty():
            replies.append(protocol.received.get_nowait())
    finally:
        transport.close()
    return sum(map(len, request)), replies


# --- F6: the floor cannot defeat the factor -------------------------------------


async def test_default_node_caps_an_unproven_udp_answer_at_the_factor(
    default_node: RunningNode,
) -> None:
    """Spoofed tiny requests draw at most 16x their size, even from the hot cache;
    after a TCP connection from the address, the same request gets the whole record."""
    config = default_node.config
    port = default_node.handle_port
    sent, first = await _udp_exchange(port, BIG, 1)
    _, hot = await _udp_exchange(port, BIG, 2)  # cached now: whatever fast path there is
    for replies in (first, hot):
        assert sum(map(len, replies)) <= config.udp_amplification_factor * sent
        assert len(replies) == 1 and decode_envelope(replies[0]).truncated
        short = decode_packet(replies[0])
        assert short.response_code == RC_ERROR and getattr(short.body, "text", "") == USE_TCP
    # a real client follows the hint; its TCP connection proves the address
    answer = await HandleClient(timeout=5).resolve(BIG, server=(HOST, port))
    assert answer.response_code == RC_SUCCESS and len(answer.values) == 9
    _, whole = await _udp_exchange(port, BIG, 3)
    size = sum(map(len, whole))
    assert config.udp_amplification_factor * sent < size <= config.udp_answer_floor
    reassembler = UdpReassembler()
    complete = [reassembler.add("node", datagram, 0.0) for datagram in whole][-1]
    assert complete is not None
    assert decode_message(*complete).response_code == RC_SUCCESS


def test_rate_limits_are_on_by_default_with_a_slip() -> None:
    config = NodeConfig()
    assert config.rate_limit > 0 and config.rate_burst >= 1 and config.rate_limit_slip == 2
    assert config.udp_amplification_factor > 0


# --- F16: RRL on Handle UDP, and F14: separate budgets -------------------------------


async def test_handle_udp_over_the_limit_is_dropped_with_a_truncated_slip(
    stingy_node: RunningNode,
) -> None:
    port = stingy_node.handle_port
    transport, protocol = await _udp_socket(port)
    try:
        for i in range(1, BURST + 1):  # the budget, answered (the last one from the cache)
            for datagram in encode_udp(_request(SMALL, i)):
                transport.sendto(datagram)
            reply = decode_packet(await asyncio.wait_for(protocol.received.get(), 5))
            assert reply.response_code == RC_SUCCESS
        refused = 6
        for i in range(100, 100 + refused):
            for datagram in encode_udp(_request(SMALL, i)):
                transport.sendto(datagram)
        # over TCP the client has a budget of its own: a real client is served
        over_tcp = await HandleClient(udp=False, timeout=5).resolve(SMALL, server=(HOST, port))
        await asyncio.sleep(SETTLE)
        slips = [protocol.received.get_nowait() for _ in range(protocol.received.qsize())]
    finally:
        transport.close()
    assert over_tcp.response_code == RC_SUCCESS
    assert len(slips) == refused // stingy_node.config.rate_limit_slip
    for slip in slips:
        assert decode_envelope(slip).truncated
        assert decode_packet(slip).response_code == RC_ERROR  # clients retry over TCP
    # and a real client that meets the limit over UDP ends up answered over TCP
    followed = await HandleClient(timeout=5).resolve(SMALL, server=(HOST, port))
    assert followed.response_code == RC_SUCCESS


async def test_spent_handle_udp_budget_leaves_the_other_front_ends_alone(
    stingy_node: RunningNode,
) -> None:
    """A spoofed UDP flood carrying a victim's address spends that address's Handle UDP
    budget only: its HTTP, DNS and Handle TCP requests are still answered."""
    port = stingy_node.handle_port
    transport, _ = await _udp_socket(port)
    try:
        for i in range(1, 50):
            for datagram in encode_udp(_request(SMALL, i)):
                transport.sendto(datagram)
        await asyncio.sleep(SETTLE)
    finally:
        transport.close()
    config = stingy_node.config
    async with aiohttp.ClientSession() as session:
        url = f"http://{HOST}:{stingy_node.http_port}/api/handles/{SMALL}"
        async with session.get(url) as response:
            http = response.status
    query = dns.message.make_query(handle_to_name(SMALL, config.dns_zone), "URI")
    by_dns = await dns.asyncquery.udp(query, HOST, port=config.dns_port, timeout=5)
    by_tcp = await HandleClient(udp=False, timeout=5).resolve(SMALL, server=(HOST, port))
    assert http == 200 and by_dns.rcode() == dns.rcode.NOERROR and by_dns.answer
    assert by_tcp.response_code == RC_SUCCESS


# --- F16: RRL on DNS UDP ------------------------------------------------------------


async def test_dns_udp_over_the_limit_is_dropped_with_a_truncated_slip(
    stingy_node: RunningNode,
) -> None:
    config = stingy_node.config
    query = dns.message.make_query(handle_to_name(SMALL, config.dns_zone), "URI")
    for _ in range(BURST):
        answered = await dns.asyncquery.udp(query, HOST, port=config.dns_port, timeout=5)
        assert answered.rcode() == dns.rcode.NOERROR and answered.answer
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Collect(), remote_addr=(HOST, config.dns_port)
    )
    refused = 6
    try:
        for number in range(refused):
            query.id = 1000 + number
            transport.sendto(query.to_wire())
        over_tcp = await dns.asyncquery.tcp(query, HOST, port=config.dns_port, timeout=5)
        await asyncio.sleep(SETTLE)
    finally:
        transport.close()
    assert over_tcp.rcode() == dns.rcode.NOERROR and over_tcp.answer  # its own budget
    slips = [dns.message.from_wire(wire) for wire in protocol.received]
    assert len(slips) == refused // config.rate_limit_slip
    assert all(s.flags & dns.flags.TC and not s.answer for s in slips)
    assert all(s.rcode() == dns.rcode.NOERROR for s in slips)


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.append(data)
