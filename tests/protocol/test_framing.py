"""TCP deframing and UDP fragmentation/reassembly."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from protocol.bodies import ResolutionRequest, ResolutionResponse
from protocol.constants import MAX_UDP_PACKET_SIZE, OC_RESOLUTION, RC_SUCCESS
from protocol.envelope import decode_envelope, encode_envelope
from protocol.errors import ProtocolError
from protocol.framing import BadEnvelope, UdpReassembler, encode_tcp, encode_udp, read_tcp_frame
from protocol.message import Message, decode_message, encode_message
from protocol.values import HandleValue


def big_response(n: int = 10) -> Message:
    values = tuple(HandleValue(i, "URL", b"https://example.com/" + b"x" * 100) for i in range(n))
    return Message(
        OC_RESOLUTION,
        RC_SUCCESS,
        ResolutionResponse("88.118.8/TV-0001", values),
        request_id=42,
        expiration=1,
    )


def test_udp_split_and_reassemble_any_order() -> None:
    msg = big_response(10)
    grams = encode_udp(msg)
    assert len(grams) > 2
    assert all(len(g) <= MAX_UDP_PACKET_SIZE for g in grams)
    whole = encode_message(msg)
    assert b"".join(g[20:] for g in grams) == whole
    envs = [decode_envelope(g) for g in grams]
    assert [e.sequence_number for e in envs] == list(range(len(grams)))
    assert all(e.message_length == len(whole) and not e.truncated for e in envs)
    # each piece's envelope is the message's own but for its sequence number
    assert all(e == dataclasses.replace(msg.envelope(len(whole)), sequence_number=i)
               for i, e in enumerate(envs))
    r = UdpReassembler()
    order = list(reversed(grams))
    results = [r.add("peer", g, now=0.0) for g in order]
    assert results[:-1] == [None] * (len(grams) - 1)
    env, body = results[-1]  # type: ignore[misc]
    assert body == whole and env.sequence_number == 0
    assert decode_message(env, body) == msg
    assert len(r) == 0 and r.buffered_bytes == 0


def test_udp_request_sets_truncated_and_single_packet_passthrough() -> None:
    req = big_response(10)
    req.response_code = 0
    from protocol.bodies import ResolutionRequest

    req.body = ResolutionRequest("x/" + "y" * 600)
    grams = encode_udp(req)
    assert len(grams) == 2 and all(decode_envelope(g).truncated for g in grams)
    small = encode_udp(big_response(1))
    assert len(small) == 1
    env, body = UdpReassembler().add("p", small[0], 0.0)  # type: ignore[misc]
    assert decode_message(env, body) == big_response(1)


def test_udp_rejects_inconsistent_pieces() -> None:
    grams = encode_udp(big_response(10))
    r = UdpReassembler()
    r.add("p", grams[0], 0.0)
    assert r.add("p", grams[0], 0.0) is None  # exact duplicate is harmless
    bad = bytearray(grams[1])
    bad[25] ^= 0xFF
    r.add("p", bytes(bad), 0.0)
    with pytest.raises(ProtocolError):
        r.add("p", grams[1], 0.0)  # same piece, different bytes
    assert len(r) == 0
    r.add("p", grams[0], 0.0)
    other_len = bytearray(grams[1])
    other_len[19] ^= 1  # message length differs from piece 0
    with pytest.raises(ProtocolError):
        r.add("p", bytes(other_len), 0.0)
    with pytest.raises(ProtocolError):
        r.add("p", grams[1][:100], 0.0)  # short middle piece
    seq_out = bytearray(grams[0])
    seq_out[12:16] = (99).to_bytes(4, "big")
    with pytest.raises(ProtocolError):
        r.add("p", bytes(seq_out), 0.0)


def test_udp_bounds_and_expiry() -> None:
    grams = encode_udp(big_response(10))
    r = UdpReassembler(max_pending=2, timeout=5.0)
    r.add("a", grams[0], 0.0)
    r.add("b", grams[0], 0.0)
    with pytest.raises(ProtocolError):
        r.add("c", grams[0], 1.0)
    assert r.add("c", grams[0], 6.0) is None  # a and b expired first
    assert len(r) == 1
    small = UdpReassembler(max_total_bytes=600)
    small.add("a", grams[0], 0.0)
    with pytest.raises(ProtocolError):
        small.add("a", grams[1], 0.0)
    assert small.buffered_bytes == 0
    tiny = UdpReassembler(max_message_size=1000)
    with pytest.raises(ProtocolError):
        tiny.add("a", grams[0], 0.0)


def _stream(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_tcp_frames_are_read_one_after_the_other() -> None:
    a, b = encode_tcp(big_response(1)), encode_tcp(big_response(3))
    reader = _stream(a + b)
    first = await read_tcp_frame(reader, first=await reader.readexactly(1))
    second = await read_tcp_frame(reader)
    assert decode_message(*second) == big_response(3)
    assert len(first[1]) == len(a) - 20
    with pytest.raises(asyncio.IncompleteReadError):
        await read_tcp_frame(reader)


async def test_an_oversized_tcp_frame_is_refused_with_its_envelope() -> None:
    data = encode_tcp(big_response(3))
    with pytest.raises(BadEnvelope) as refused:
        await read_tcp_frame(_stream(data), max_message_size=100)
    assert refused.value.head == data[:20]


def test_tcp_envelope_is_packed_as_the_message_envelope_encodes() -> None:
    """encode_tcp packs the envelope from the message's fields: the bytes (or the error)
    of encode_envelope(msg.envelope(...)), for ids and versions in and out of range."""
    rng = random.Random(26)
    for _ in range(500):
        msg = Message(OC_RESOLUTION, body=ResolutionRequest("0.NA/x"),
                      request_id=rng.choice((0, 7, 2**31, 2**32 - 1, 2**32, -1, -2**31 - 1)),
                      major_version=rng.choice((2, 3, 255, 256)), minor_version=rng.randrange(12))
        msg.session_id = rng.choice((0, 5, 2**31 + 3, -2))
        msg.suggest_major_version = rng.choice((0, 2, 3, 4, -1))
        msg.suggest_minor_version = rng.choice((0, 10, 255, 300))
        body = encode_message(msg)
        try:
            expected: bytes | str = encode_envelope(msg.envelope(len(body))) + body
        except ProtocolError as exc:
            expected = str(exc)
        try:
            packed: bytes | str = encode_tcp(msg)
        except ProtocolError as exc:
            packed = str(exc)
        assert packed == expected
