"""Hostile clients against real servers on ephemeral ports over a real SQLite store:
rate limits on every front end, the UDP amplification cap, slow (slowloris)
clients, and floods of malformed datagrams.  Behaviour only, no timing asserts:
loops that wait for the server are bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from protocol.bodies import ErrorResponse, ResolutionRequest
from protocol.constants import (
    MESSAGE_ENVELOPE_SIZE,
    OC_RESOLUTION,
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_SERVER_TOO_BUSY,
    RC_SUCCESS,
)
from protocol.envelope import decode_envelope
from protocol.framing import decode_packet, encode_tcp, encode_udp
from protocol.message import Message, decode_message
from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.client import HandleClient
from resolver.core.limits import Limits
from resolver.core.ratelimit import RateLimiter
from resolver.core.service import ResolutionService
from resolver.dns.bridge import DnsBridge, run_dns_server
from resolver.dns.names import handle_to_name
from resolver.handle.amplification import USE_TCP
from resolver.handle.server import HandleServer, run_handle_server
from resolver.http.api import run_http_server
from resolver.http.guard import HttpGuard
from resolver.node import start_node

HOST = "127.0.0.1"
SMALL = "88.118.8/TV-0001"
HUGE = "88.118.8/HUGE"
ZONE = "id.abuse."
BURST = 3
SLOW = 0.3  # the read timeout the slow-client tests configure, seconds


def _stingy() -> RateLimiter:
    """BURST requests, then (practically) no refill for the length of a test."""
    return RateLimiter(0.001, BURST)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ResolutionService]:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    await store.create_handle(
        SMALL, [HandleValue(1, "URL", b"https://example.com/tv/0001")], actor="test"
    )
    big = [HandleValue(i, "NOTE", b"n" * 400) for i in range(1, 21)]
    await store.create_handle(HUGE, big, actor="test")
    try:
        yield ResolutionService(store)
    finally:
        await store.close()


def _request(handle: str, request_id: int) -> Message:
    return Message(OC_RESOLUTION, body=ResolutionRequest(handle), request_id=request_id)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


async def _udp_socket(port: int) -> tuple[asyncio.DatagramTransport, _Datagrams]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _Datagrams, remote_addr=(HOST, port)
    )
    return transport, protocol


async def _tcp_ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: Message) -> Message:
    writer.write(encode_tcp(request))
    await writer.drain()
    head = await asyncio.wait_for(reader.readexactly(MESSAGE_ENVELOPE_SIZE), 5)
    env = decode_envelope(head)
    return decode_message(env, await asyncio.wait_for(reader.readexactly(env.message_length), 5))


# --- rate limits ---------------------------------------------------------------


async def test_handle_tcp_answers_too_busy_over_the_burst(service: ResolutionService) -> None:
    server = await run_handle_server(service, HOST, 0, rate_limiter=_stingy())
    try:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        codes = [(await _tcp_ask(reader, writer, _request(SMALL, i))).response_code
                 for i in range(1, BURST + 3)]
        writer.close()
    finally:
        await server.close()
    assert codes == [RC_SUCCESS] * BURST + [RC_SERVER_TOO_BUSY] * 2


async def test_handle_udp_over_the_burst_is_dropped_or_slipped(
    service: ResolutionService,
) -> None:
    """RRL: of two refused datagrams one is dropped, the other gets the use-TCP slip."""
    server = await run_handle_server(service, HOST, 0, rate_limiter=_stingy())
    transport, protocol = await _udp_socket(server.port)
    try:
        codes = []
        for i in range(1, BURST + 3):
            for datagram in encode_udp(_request(SMALL, i)):
                transport.sendto(datagram)
            if i <= BURST:
                reply = await asyncio.wait_for(protocol.received.get(), 5)
                codes.append(decode_packet(reply).response_code)
        slip = await asyncio.wait_for(protocol.received.get(), 5)
        await asyncio.sleep(0.2)  # a reply to the dropped datagram would be here by now
        extra = protocol.received.qsize()
    finally:
        transport.close()
        await server.close()
    assert codes == [RC_SUCCESS] * BURST and extra == 0
    assert decode_envelope(slip).truncated
    assert (decode_packet(slip).request_id, decode_packet(slip).response_code) == (
        BURST + 2, RC_ERROR
    )


async def test_http_answers_429_with_retry_after_over_the_burst(
    service: ResolutionService,
) -> None:
    runner, port = await run_http_server(service, HOST, 0, guard=HttpGuard(_stingy()))
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://{HOST}:{port}/api/handles/{SMALL}"
            statuses = []
            for _ in range(BURST):
                async with session.get(url) as response:
                    statuses.append(response.status)
            async with session.get(url) as response:
                refused, retry_after, body = (
                    response.status, response.headers.get("Retry-After"), await response.json()
                )
            async with session.get(f"http://{HOST}:{port}/healthz") as response:
                health = response.status
    finally:
        await runner.cleanup()
    assert statuses == [200] * BURST
    assert refused == 429 and retry_after is not None and int(retry_after) >= 1
    assert body["responseCode"] == RC_SERVER_TOO_BUSY
    assert health == 200  # monitoring is never limited


async def test_dns_tcp_answers_refused_over_the_burst(service: ResolutionService) -> None:
    server = await run_dns_server(service, zone=ZONE, host=HOST, port=0,
                                  rate_limiter=_stingy())
    name = handle_to_name(SMALL, ZONE)
    try:
        query = dns.message.make_query(name, "URI", use_edns=False)
        udp_reply = await dns.asyncquery.udp(query, HOST, port=server.port, timeout=5)
        rcodes = []
        for _ in range(BURST + 1):
            reply = await dns.asyncquery.tcp(query, HOST, port=server.port, timeout=5)
            rcodes.append(reply.rcode())
    finally:
        server.close()
        await server.wait_closed()
    assert udp_reply.rcode() == dns.rcode.NOERROR
    # TCP has its own budget (UDP's may be spent by forged datagrams), fully available
    assert rcodes == [dns.rcode.NOERROR] * BURST + [dns.rcode.REFUSED]


# --- amplification ---------------------------------------------------------------


async def test_huge_answer_over_udp_is_a_short_use_tcp_reply(service: ResolutionService) -> None:
    server = await run_handle_server(
        service, HOST, 0, limits=Limits(udp_amplification_factor=4)
    )
    transport, protocol = await _udp_socket(server.port)
    try:
        request = encode_udp(_request(HUGE, 42))
        for datagram in request:
            transport.sendto(datagram)
        reply = await asyncio.wait_for(protocol.received.get(), 5)
        answer = await HandleClient(timeout=5).resolve(HUGE, server=(HOST, server.port))
        await asyncio.sleep(0.2)  # a second datagram of the reply would be here by now
        extra = protocol.received.qsize()
    finally:
        transport.close()
        await server.close()
    assert len(reply) <= 4 * sum(map(len, request)) and extra == 0
    assert decode_envelope(reply).truncated
    short = decode_packet(reply)
    assert (short.request_id, short.response_code) == (42, RC_ERROR)
    assert isinstance(short.body, ErrorResponse) and short.body.text == USE_TCP
    # the client took the hint and got the whole record over TCP
    assert answer.response_code == RC_SUCCESS and len(answer.values) == 20


async def test_small_answer_over_udp_is_sent_whole(service: ResolutionService) -> None:
    server = await run_handle_server(
        service, HOST, 0, limits=Limits(udp_amplification_factor=4)
    )
    transport, protocol = await _udp_socket(server.port)
    try:
        for datagram in encode_udp(_request(SMALL, 43)):
            transport.sendto(datagram)
        reply = decode_packet(await asyncio.wait_for(protocol.received.get(), 5))
    finally:
        transport.close()
        await server.close()
    assert reply.response_code == RC_SUCCESS


async def test_dns_udp_answer_is_capped_by_the_factor(service: ResolutionService) -> None:
    bridge = DnsBridge(service, zone=ZONE, amplification_factor=2)
    query = dns.message.make_query(handle_to_name(HUGE, ZONE), "TXT", use_edns=0,
                                   payload=4096)
    wire = query.to_wire()
    udp = await bridge.answer(wire, udp=True)
    tcp = await bridge.answer(wire, udp=False)
    assert udp is not None and tcp is not None
    assert len(udp) <= max(512, 2 * len(wire))
    assert dns.message.from_wire(udp).flags & dns.flags.TC
    assert len(dns.message.from_wire(tcp).answer[0]) == 20


# --- slow clients and floods -------------------------------------------------------


async def _trickle(port: int, payload: bytes, head: bytes = b"") -> bytes | None:
    """Send ``head`` at once, then ``payload`` one byte every 50 ms (at most 200)
    until the server answers or closes.  What the server sent (b"" for a bare
    close), or None if it did neither while the payload lasted."""
    reader, writer = await asyncio.open_connection(HOST, port)
    heard = asyncio.create_task(reader.read(4096))
    try:
        writer.write(head)
        for byte in payload[:200]:
            if heard.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        return heard.result() if heard.done() else None
    except ConnectionError:
        return b""
    finally:
        heard.cancel()
        writer.close()


async def test_slowloris_on_handle_tcp_is_cut_off_while_others_are_served(
    service: ResolutionService,
) -> None:
    server = await run_handle_server(service, HOST, 0, limits=Limits(read_timeout=SLOW))
    try:
        slow = asyncio.create_task(_trickle(server.port, encode_tcp(_request(SMALL, 1))))
        answers = [
            await HandleClient(udp=False, timeout=5).resolve(SMALL, server=(HOST, server.port))
            for _ in range(3)
        ]
        heard = await slow
    finally:
        await server.close()
    assert heard == b""  # closed, unanswered
    assert all(a.response_code == RC_SUCCESS for a in answers)


async def test_slowloris_on_http_headers_and_body_is_cut_off(
    service: ResolutionService,
) -> None:
    runner, port = await run_http_server(service, HOST, 0, guard=HttpGuard(read_timeout=SLOW))
    get = (
        f"GET /api/handles/{SMALL} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"X-Padding: {'p' * 400}\r\n\r\n"
    ).encode()
    body = b'[{"index":1,"type":"URL","data":{"format":"string","value":"x"}}]'
    put = (
        f"PUT /api/handles/{SMALL} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        slow_headers = asyncio.create_task(_trickle(port, get))
        slow_body = asyncio.create_task(_trickle(port, body, head=put))
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(3):
                async with session.get(f"http://{HOST}:{port}/api/handles/{SMALL}") as resp:
                    statuses.append(resp.status)
        headers_heard, body_heard = await slow_headers, await slow_body
    finally:
        await runner.cleanup()
    assert headers_heard == b""  # closed before the request was complete
    assert body_heard is not None and body_heard.startswith(b"HTTP/1.1 408")
    assert statuses == [200, 200, 200]


async def test_flood_of_malformed_datagrams_does_not_stop_answers(
    service: ResolutionService,
) -> None:
    server: HandleServer = await run_handle_server(service, HOST, 0)
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        good = encode_udp(_request(SMALL, 99))[0]
        junk = [os.urandom(n % 600) for n in range(1500)]
        # plausible envelopes with lying lengths, sequence numbers and bodies
        junk += [good[:12] + os.urandom(8) + os.urandom(n % 50) for n in range(500)]
        junk += [good[: MESSAGE_ENVELOPE_SIZE + n % 30] for n in range(200)]
        for count, datagram in enumerate(junk):
            flood.sendto(datagram, (HOST, server.port))
            if count % 100 == 0:
                await asyncio.sleep(0)  # let the server read
        # the kernel may drop datagrams while the flood is queued: ask a few times
        transport, protocol = await _udp_socket(server.port)
        reply = None
        for _ in range(20):
            transport.sendto(good)
            with contextlib.suppress(TimeoutError):
                reply = decode_packet(await asyncio.wait_for(protocol.received.get(), 0.5))
                break
        transport.close()
        answers = [
            await HandleClient(timeout=5).resolve(SMALL, server=(HOST, server.port))
            for _ in range(3)
        ]
    finally:
        flood.close()
        await server.close()
    assert all(a.response_code == RC_SUCCESS for a in answers)
    assert reply is not None and (reply.request_id, reply.response_code) == (99, RC_SUCCESS)


async def test_http_work_in_flight_is_bounded_per_process(service: ResolutionService) -> None:
    """A request whose body is still coming holds the one slot: others get 503."""
    runner, port = await run_http_server(
        service, HOST, 0, guard=HttpGuard(read_timeout=30, max_inflight=1)
    )
    head = (
        f"PUT /api/handles/{SMALL} HTTP/1.1\r\nHost: {HOST}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n["
    ).encode()
    url = f"http://{HOST}:{port}/api/handles/{SMALL}"
    try:
        _, writer = await asyncio.open_connection(HOST, port)
        writer.write(head)
        await writer.drain()
        async with aiohttp.ClientSession() as session:
            busy = None
            for _ in range(50):  # until the server has taken the slow request in
                async with session.get(url) as resp:
                    if resp.status == 503:
                        busy = await resp.json()
                        break
                await asyncio.sleep(0.05)
            writer.close()  # the slow client gives up: its slot is freed
            statuses = []
            for _ in range(50):
                async with session.get(url) as resp:
                    statuses.append(resp.status)
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert busy is not None and busy["responseCode"] == RC_SERVER_TOO_BUSY
    assert statuses[-1] == 200


def _free_port() -> int:
    """A port free for both TCP and UDP on HOST just now."""
    for _ in range(20):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind((HOST, port))
            except OSError:
                continue
            return int(port)
    raise OSError("no port free for both TCP and UDP")


async def test_node_config_gives_every_front_end_its_own_budget(tmp_path: Path) -> None:
    """Started from NodeConfig, the Handle, HTTP and DNS front ends each have a budget:
    spending one leaves the others whole (issue 18 F14)."""
    config = NodeConfig(
        data_dir=tmp_path / "node", handle_port=0, http_port=0, dns_port=_free_port(),
        rate_limit=0.001, rate_burst=3,
    )
    node = await start_node(config)
    address = (HOST, node.handle_port)
    try:
        reader, writer = await asyncio.open_connection(*address)
        handle = [(await _tcp_ask(reader, writer, _request(SMALL, i))).response_code
                  for i in range(4)]
        writer.close()
        async with aiohttp.ClientSession() as session:
            url = f"http://{HOST}:{node.http_port}/api/handles/{SMALL}"
            http = []
            for _ in range(4):
                async with session.get(url) as response:
                    http.append(response.status)
        query = dns.message.make_query(handle_to_name(SMALL, config.dns_zone), "URI")
        by_dns = [(await dns.asyncquery.tcp(query, HOST, port=config.dns_port, timeout=5))
                  .rcode() for _ in range(4)]
    finally:
        await node.close()
    assert handle == [RC_HANDLE_NOT_FOUND] * 3 + [RC_SERVER_TOO_BUSY]  # an empty registry
    assert http == [404] * 3 + [429]
    assert by_dns == [dns.rcode.NXDOMAIN] * 3 + [dns.rcode.REFUSED]
