"""How a Handle TCP connection frames requests where its bytes arrive
(``resolver.handle.server._TcpConnection``): requests sent back to back in one write,
cut into single octets, more of them than the connection buffers while it answers,
a connection the client ends after a request or inside one.  Each request is answered
once, in order, as a request sent alone is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocol.bodies import ResolutionRequest
from protocol.constants import MESSAGE_ENVELOPE_SIZE, OC_RESOLUTION, RC_SUCCESS
from protocol.envelope import decode_envelope
from protocol.framing import encode_tcp
from protocol.message import Message, decode_message
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.handle.server import _TCP_BUFFER, HandleServer, run_handle_server

HOST = "127.0.0.1"
IDLE = 1.0  # the idle timeout of the server, seconds
NAME = "88.118.8/TV-0001"
BIG = "88.118.8/BIG"  # an answer of some 60 KB


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[HandleServer]:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    await store.create_handle(NAME, [HandleValue(1, "URL", b"https://example.com/tv")],
                              actor="test")
    await store.create_handle(BIG, [HandleValue(i, "NOTE", b"n" * 2000) for i in range(1, 31)],
                              actor="test")
    running = await run_handle_server(ResolutionService(store), HOST, 0,
                                      limits=Limits(idle_timeout=IDLE))
    try:
        yield running
    finally:
        await running.close()
        await store.close()


def _request(request_id: int, handle: str = NAME) -> bytes:
    return encode_tcp(Message(OC_RESOLUTION, body=ResolutionRequest(handle),
                              request_id=request_id))


async def _answers(reader: asyncio.StreamReader, count: int) -> list[Message]:
    out = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readexactly(MESSAGE_ENVELOPE_SIZE), 30)
        env = decode_envelope(head)
        out.append(decode_message(env, await reader.readexactly(env.message_length)))
    return out


def _same_answer(answer: Message, alone: Message, request_id: int) -> None:
    assert answer.request_id == request_id
    assert (answer.response_code, answer.op_code, answer.body) == (
        alone.response_code, alone.op_code, alone.body)


async def _alone(port: int, handle: str = NAME) -> Message:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(_request(1, handle))
    (answer,) = await _answers(reader, 1)
    writer.close()
    return answer


async def test_back_to_back_and_octet_by_octet(server: HandleServer) -> None:
    alone = await _alone(server.port)
    assert alone.response_code == RC_SUCCESS
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(_request(2) + _request(3) + _request(4)[:7])
    rest = _request(4)[7:] + _request(5)
    for octet in rest:  # the rest of one request and all of the next, an octet a write
        writer.write(bytes([octet]))
        await writer.drain()
        await asyncio.sleep(0)
    answers = await _answers(reader, 4)
    for answer, request_id in zip(answers, (2, 3, 4, 5), strict=True):
        _same_answer(answer, alone, request_id)
    writer.close()


async def test_more_than_the_buffer_while_answering(server: HandleServer) -> None:
    """Requests beyond what the connection buffers while it answers: reading pauses
    and resumes, and every one is answered, in order."""
    alone = await _alone(server.port)
    one = len(_request(0))
    count = _TCP_BUFFER // one * 2
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"".join(_request(i) for i in range(10, 10 + count)))
    answers = await _answers(reader, count)
    for request_id, answer in enumerate(answers, start=10):
        _same_answer(answer, alone, request_id)
    writer.close()


async def test_answers_wait_for_a_slow_reader(server: HandleServer) -> None:
    """Answers beyond what the socket takes while the client does not read: writing
    pauses until it drains, and every answer arrives, in order."""
    alone = await _alone(server.port, BIG)
    count = 200  # some 12 MB of answers
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"".join(_request(i, BIG) for i in range(100, 100 + count)))
    await asyncio.sleep(0.5)  # the server writes until the socket is full
    answers = await _answers(reader, count)
    for request_id, answer in enumerate(answers, start=100):
        _same_answer(answer, alone, request_id)
    writer.close()


async def test_client_ends_after_a_request(server: HandleServer) -> None:
    """The end of the client's stream after a whole request: answered, then closed."""
    alone = await _alone(server.port)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(_request(7) + _request(8))
    writer.write_eof()
    answers = await _answers(reader, 2)
    _same_answer(answers[0], alone, 7)
    _same_answer(answers[1], alone, 8)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_client_ends_inside_a_request(server: HandleServer) -> None:
    """The end of the stream inside a request (its envelope, or its message): closed,
    unanswered."""
    for cut in (5, MESSAGE_ENVELOPE_SIZE + 3):
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(_request(9)[:cut])
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()


async def test_idle_timeout_counts_from_the_last_answer(server: HandleServer) -> None:
    """Requests spaced well within the idle timeout keep a connection open past it (the
    deadline moves with every answer); once they stop, it is closed."""
    alone = await _alone(server.port)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    for request_id in range(20, 20 + int(3 * IDLE / 0.1)):  # three idle timeouts long
        writer.write(_request(request_id))
        (answer,) = await _answers(reader, 1)
        _same_answer(answer, alone, request_id)
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(reader.read(), 30) == b""
    writer.close()
