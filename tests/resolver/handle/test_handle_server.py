"""The Handle TCP/UDP server with the async client, on real stores and real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.bodies import ResolutionRequest, ValuesRequest
from protocol.constants import (
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_SHA1,
    OC_ADD_VALUE,
    OC_RESOLUTION,
    RC_AUTHEN_TIMEOUT,
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_PROTOCOL_ERROR,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
    SP_HDL_UDP,
    ST_QUERY,
)
from protocol.envelope import Envelope, encode_envelope
from protocol.framing import decode_packet, encode_udp
from protocol.message import Message
from protocol.public_key import encode_public_key
from protocol.site_info import Interface, ServerInfo, SiteInfo, address_from_string
from registry.store import HandleStore
from registry.write_rules import WriteRules
from resolver.core.client import (
    HandleClient,
    HandleClientError,
    PublicKeyAuth,
    SecretKeyAuth,
    _answer,
    _TcpExchange,
)
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import (
    NA,
    OPS,
    OPS_SECRET,
    OTHER_NA,
    OTHER_SECRET,
    SECRET,
    TV,
    admin_value,
    dsa_key,
    rsa_key,
    seed,
    url,
)

SERVER_KEY = rsa.generate_private_key(65537, 2048)
# the transport does not depend on the backend (test_handle_service covers both)
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
LIMITS = Limits(max_tcp_connections=4, idle_timeout=0.5, max_message_size=64 * 1024)
ADMIN = SecretKeyAuth(NA, 300, SECRET)


@dataclass
class Running:
    server: HandleServer
    store: HandleStore
    addr: tuple[str, int]
    site_value: object


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Running]:
    await seed(database)
    service = ResolutionService(database, limits=LIMITS)
    server = await run_handle_server(
        service, "127.0.0.1", 0, limits=LIMITS, private_key=SERVER_KEY
    )
    site = build_site_info(
        [("127.0.0.1", server.port)], public_key=encode_public_key(SERVER_KEY.public_key())
    )
    service.site_info = site_info_value(site)
    try:
        yield Running(server, database, ("127.0.0.1", server.port), service.site_info)
    finally:
        await server.close()


def udp_only(port: int) -> SiteInfo:
    """A site whose one server answers on UDP only, so the client cannot fall back to TCP."""
    udp = Interface(ST_QUERY, SP_HDL_UDP, port)
    return SiteInfo(servers=(ServerInfo(1, address_from_string("127.0.0.1"), b"", (udp,)),))


@pytest.mark.parametrize("udp", [True, False], ids=["udp", "tcp"])
async def test_resolution(node: Running, udp: bool) -> None:
    client = HandleClient(udp=udp, timeout=2)
    target = udp_only(node.server.port) if udp else node.addr
    res = await client.resolve(TV, server=target)
    assert res.response_code == RC_SUCCESS
    assert [v.index for v in res.values] == [1, 100, 101]
    assert res.source == f"127.0.0.1:{node.server.port}"
    assert [v.index for v in (await client.resolve(TV, ["URL"], server=target)).values] == [1]
    by_index = await client.resolve(TV, (), [101], server=target)
    assert [v.index for v in by_index.values] == [101]
    missing = await client.resolve("88.118.8/none", server=target)
    assert missing.response_code == RC_HANDLE_NOT_FOUND
    restricted = await client.resolve(TV, ["EMAIL"], server=target)
    assert restricted.response_code == RC_VALUES_NOT_FOUND
    with_key = await client.resolve(TV, ["EMAIL"], server=target, auth=ADMIN)
    assert [v.data for v in with_key.values] == [b"owner@example.test"]


async def test_site_info_and_certified_responses(node: Running) -> None:
    client = HandleClient(timeout=2)
    site = await client.get_site_info(node.addr)
    assert site.servers[0].interface(1) is not None
    assert site.servers[0].public_key == encode_public_key(SERVER_KEY.public_key())
    res = await client.resolve(TV, server=site, certify=True)
    assert res.response_code == RC_SUCCESS
    other_key = encode_public_key(rsa.generate_private_key(65537, 2048).public_key())
    forged = build_site_info([node.addr], public_key=other_key)
    with pytest.raises(HandleClientError):
        await client.resolve(TV, server=forged, certify=True)


@pytest.mark.parametrize(
    "auth",
    [
        SecretKeyAuth(NA, 300, SECRET),
        SecretKeyAuth(NA, 300, SECRET, HASH_CODE_MD5),
        SecretKeyAuth(NA, 300, SECRET, HASH_CODE_SHA1),
        SecretKeyAuth(NA, 300, SECRET, HASH_CODE_HMAC_SHA256),
        PublicKeyAuth(NA, 301, rsa_key()),
        PublicKeyAuth(NA, 302, dsa_key()),
        SecretKeyAuth(OPS, 300, OPS_SECRET),
    ],
    ids=["pbkdf2", "md5", "sha1", "hmac-sha256", "rsa", "dsa", "group-member"],
)
async def test_admin_operations(node: Running, auth: SecretKeyAuth | PublicKeyAuth) -> None:
    client = HandleClient(timeout=5)
    new = "88.118.8/TV-0002"
    admins = [admin_value(100, NA, 200), admin_value(101, auth.handle, auth.index)]
    await client.create_handle(new, [url(1, "a"), *admins], server=node.addr, auth=auth)
    await client.add_values(new, [url(2, "b")], server=node.addr, auth=auth)
    await client.modify_values(new, [url(2, "c")], server=node.addr, auth=auth)
    await client.remove_values(new, [1], server=node.addr, auth=auth)
    res = await client.resolve(new, server=node.addr)
    assert [(v.index, v.data) for v in res.values if v.type == "URL"] == [(2, b"c")]
    if auth.handle == NA:
        assert new in await client.list_handles("88.118.8", server=node.addr, auth=auth)
    await client.delete_handle(new, server=node.addr, auth=auth)
    assert (await client.resolve(new, server=node.addr)).response_code == RC_HANDLE_NOT_FOUND


async def test_refusals_change_nothing(node: Running) -> None:
    client = HandleClient(timeout=5)
    before = await node.store.get_handle(TV)
    cases = [
        (None, RC_AUTHENTICATION_NEEDED),
        (SecretKeyAuth(NA, 300, b"wrong key"), RC_AUTHENTICATION_FAILED),
        (PublicKeyAuth(NA, 301, dsa_key()), RC_AUTHENTICATION_FAILED),
        (SecretKeyAuth(OTHER_NA, 300, OTHER_SECRET), RC_INSUFFICIENT_PERMISSIONS),
    ]
    for auth, code in cases:
        ops = [
            client.create_handle("88.118.8/x", [url(1, "x")], server=node.addr, auth=auth),  # type: ignore[arg-type]
            client.add_values(TV, [url(9, "x")], server=node.addr, auth=auth),  # type: ignore[arg-type]
            client.modify_values(TV, [url(1, "x")], server=node.addr, auth=auth),  # type: ignore[arg-type]
            client.remove_values(TV, [1], server=node.addr, auth=auth),  # type: ignore[arg-type]
            client.delete_handle(TV, server=node.addr, auth=auth),  # type: ignore[arg-type]
            client.list_handles("88.118.8", server=node.addr, auth=auth),  # type: ignore[arg-type]
        ]
        for op in ops:
            with pytest.raises(HandleClientError) as info:
                await op
            assert info.value.response_code == code, (auth, code)
    assert await node.store.get_handle(TV) == before
    assert await node.store.get_handle("88.118.8/x") is None


async def test_replayed_answer_is_rejected(node: Running) -> None:
    request = Message(OC_ADD_VALUE, body=ValuesRequest(TV, (url(7, "once"),)), request_id=11)
    reader, writer = await asyncio.open_connection(*node.addr)
    exchange = _TcpExchange(reader, writer)
    try:
        await exchange.send(request)
        challenge = await exchange.receive()
        assert challenge.response_code == RC_AUTHENTICATION_NEEDED
        answer = _answer(request, challenge, ADMIN)
        await exchange.send(answer)
        assert (await exchange.receive()).response_code == RC_SUCCESS
        await node.store.remove_values(TV, [7], actor="test")
        await exchange.send(answer)
        assert (await exchange.receive()).response_code == RC_AUTHEN_TIMEOUT
    finally:
        exchange.close()
    assert await node.store.get_handle(TV, indexes=[7]) is not None
    assert not (await node.store.get_handle(TV, indexes=[7])).values  # type: ignore[union-attr]


def _udp_exchange(
    addr: tuple[str, int], datagrams: list[bytes], family: int = socket.AF_INET
) -> bytes | None:
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        for datagram in datagrams:
            sock.sendto(datagram, addr)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return None


async def test_malformed_datagrams_and_streams(node: Running) -> None:
    client = HandleClient(timeout=2)
    # no envelope at all: dropped
    assert await asyncio.to_thread(_udp_exchange, node.addr, [b"\x02\x0a"]) is None
    # an envelope with a body that is not a message: protocol error
    junk = b"\xff" * 40
    bad = encode_envelope(Envelope(len(junk), request_id=5)) + junk
    reply = await asyncio.to_thread(_udp_exchange, node.addr, [bad])
    assert reply is not None and decode_packet(reply).response_code == RC_PROTOCOL_ERROR
    # over TCP the same gets an error response and the connection closes
    reader, writer = await asyncio.open_connection(*node.addr)
    writer.write(bad)
    exchange = _TcpExchange(reader, writer)
    assert (await exchange.receive()).response_code == RC_PROTOCOL_ERROR
    assert await reader.read() == b""
    exchange.close()
    # and the server keeps serving
    assert (await client.resolve(TV, server=node.addr)).response_code == RC_SUCCESS


async def test_limits(node: Running) -> None:
    client = HandleClient(timeout=2)
    # a message larger than the limit is refused before it is read
    huge = encode_envelope(Envelope(LIMITS.max_message_size + 1, request_id=9))
    reader, writer = await asyncio.open_connection(*node.addr)
    writer.write(huge)
    assert (await _TcpExchange(reader, writer).receive()).response_code == RC_PROTOCOL_ERROR
    writer.close()
    # too many values for one handle (a write rule of the store)
    node.store.rules = WriteRules(max_values=8)
    many = [url(i, "x") for i in range(1, 10)]
    with pytest.raises(HandleClientError):
        await client.create_handle("88.118.8/many", many, server=node.addr, auth=ADMIN)
    # idle connections are closed
    reader, writer = await asyncio.open_connection(*node.addr)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    # connections beyond the limit are closed at once, the others still work
    held = [await asyncio.open_connection(*node.addr) for _ in range(LIMITS.max_tcp_connections)]
    extra_reader, extra_writer = await asyncio.open_connection(*node.addr)
    assert await asyncio.wait_for(extra_reader.read(), 10) == b""
    extra_writer.close()
    for _, w in held:
        w.close()
    assert (await client.resolve(TV, server=node.addr)).response_code == RC_SUCCESS


async def test_large_response_over_udp_is_reassembled(node: Running) -> None:
    client = HandleClient(timeout=2)
    values = [url(i, "u" * 300) for i in range(10, 20)]
    await client.add_values(TV, values, server=node.addr, auth=ADMIN)
    res = await client.resolve(TV, ["URL"], server=udp_only(node.server.port))
    assert len(res.values) == 11


async def test_ipv4_and_ipv6_listeners_share_one_port(database: HandleStore) -> None:
    await seed(database)
    server = await run_handle_server(ResolutionService(database), ["127.0.0.1", "::1"], 0)
    try:
        assert {host for host, _ in server.tcp_ports} == {"127.0.0.1", "::1"}
        assert len({port for _, port in server.tcp_ports + server.udp_ports}) == 1
        client = HandleClient(timeout=2)
        res = await client.resolve(TV, server=("::1", server.port), authoritative=True)
        assert res.response_code == RC_SUCCESS
        assert res.source == f"[::1]:{server.port}"
        request = Message(OC_RESOLUTION, body=ResolutionRequest(TV), request_id=7)
        reply = await asyncio.to_thread(
            _udp_exchange, ("::1", server.port), encode_udp(request), socket.AF_INET6
        )
        assert reply is not None and decode_packet(reply).response_code == RC_SUCCESS
    finally:
        await server.close()
