"""Worker processes sharing the Handle UDP port get requests by request id: one
client socket's requests reach every worker, a request in several datagrams one."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence

import pytest

from protocol.bodies import ResolutionRequest
from protocol.constants import MAX_UDP_DATA_SIZE, OC_RESOLUTION, RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.framing import encode_udp
from protocol.message import Message
from registry.store import HandleStore
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.handle.server import HandleServer, run_handle_server
from resolver.handle.udp_spread import request_id_program, spread_by_request
from tests.resolver.handle.test_handle_support import TV, seed
from tests.resolver.handle.test_hot_path import decoded

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def group(size: int) -> list[socket.socket]:
    """``size`` UDP sockets sharing one loopback port with SO_REUSEPORT."""
    socks: list[socket.socket] = []
    port = 0
    for _ in range(size):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        sock.settimeout(0.2)
        socks.append(sock)
    return socks


def drain(sock: socket.socket) -> list[int]:
    """Request ids of the datagrams waiting on ``sock``."""
    ids = []
    while True:
        try:
            ids.append(struct.unpack(">I", sock.recv(100)[8:12])[0])
        except TimeoutError:
            return ids


def test_the_program_is_three_classic_bpf_instructions() -> None:
    program = request_id_program(3)
    assert len(program) == 3 * 8
    assert struct.unpack("HBBI", program[8:16]) == (0x94, 0, 0, 3)  # A %= 3
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        request_id_program(0)


@pytest.mark.parametrize("workers", [2, 3])
def test_one_client_sockets_requests_reach_every_worker(workers: int) -> None:
    socks = group(workers)
    try:
        assert spread_by_request(socks[0], workers)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for request_id in range(60):
                envelope = bytes(8) + struct.pack(">I", request_id) + bytes(8)
                client.sendto(envelope, socks[0].getsockname())
        received = [drain(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    # a socket's place in the group is the order it joined
    assert received == [[i for i in range(60) if i % workers == n] for n in range(workers)]


@pytest.fixture
async def workers(database: HandleStore) -> list[HandleServer]:
    """Two Handle servers sharing one port as two worker processes do."""
    await seed(database)
    limits = Limits(udp_amplification_factor=0)
    first = await run_handle_server(ResolutionService(database, limits=limits), "127.0.0.1", 0,
                                    limits=limits, reuse_port=True, udp_workers=2)
    second = await run_handle_server(ResolutionService(database, limits=limits), "127.0.0.1",
                                     first.port, limits=limits, reuse_port=True, udp_workers=2)
    return [first, second]


def counted(servers: Sequence[HandleServer]) -> list[list[int]]:
    """Request ids each server's processor is asked, as it is asked."""
    seen: list[list[int]] = []
    for server in servers:
        ids: list[int] = []
        process = server.processor.process

        async def counting(request: Message, *, spoofable: bool = False,
                           ids: list[int] = ids, process=process) -> list[Message]:  # type: ignore[no-untyped-def]
            ids.append(request.request_id)
            return await process(request, spoofable=spoofable)

        server.processor.process = counting  # type: ignore[method-assign]
        seen.append(ids)
    return seen


def ask(sock: socket.socket, port: int, handle: str, request_id: int) -> Message:
    """Resolve ``handle`` from the client socket ``sock`` (one socket for every request)."""
    message = Message(OC_RESOLUTION, body=ResolutionRequest(handle, (), ()),
                      request_id=request_id)
    for datagram in encode_udp(message):
        sock.sendto(datagram, ("127.0.0.1", port))
    first = sock.recv(65536)
    pieces = max(1, -(-int.from_bytes(first[16:20], "big") // MAX_UDP_DATA_SIZE))
    return decoded([first] + [sock.recv(65536) for _ in range(pieces - 1)])


@SQLITE
async def test_two_workers_share_one_clients_requests(workers: list[HandleServer]) -> None:
    seen = counted(workers)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    port = workers[0].port
    try:
        answers = [await asyncio.to_thread(ask, client, port, TV, rid) for rid in range(1, 21)]
        assert [a.response_code for a in answers] == [RC_SUCCESS] * 20
        assert [a.request_id for a in answers] == list(range(1, 21))
        assert sorted(seen[0] + seen[1]) == list(range(1, 21))
        assert {len(seen[0]), len(seen[1])} == {10}  # odd ids to one, even to the other
        # a request too long for one datagram is reassembled by the one worker it reaches
        long_name = "88.118.8/" + "x" * 1000
        assert len(encode_udp(Message(OC_RESOLUTION, body=ResolutionRequest(long_name, (), ()),
                                      request_id=77))) > 1
        answer = await asyncio.to_thread(ask, client, port, long_name, 77)
        assert answer.response_code == RC_HANDLE_NOT_FOUND and answer.request_id == 77
        assert (seen[0] + seen[1]).count(77) == 1
    finally:
        client.close()
        for server in workers:
            await server.close()
