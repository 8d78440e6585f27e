"""Hostile input: truncated, bit-flipped, oversized-length and random bytes must
only ever raise ProtocolError - never IndexError, struct.error, UnicodeDecodeError,
MemoryError or a hang - and decoding never allocates beyond its input."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.admin_record import decode_admin_record
from protocol.credential import decode_credential
from protocol.envelope import Envelope, decode_envelope
from protocol.errors import ProtocolError
from protocol.framing import UdpReassembler, decode_packet, encode_tcp
from protocol.message import Message, decode_message, encode_message
from protocol.public_key import decode_key_numbers
from protocol.record_image import RecordImage
from protocol.references import decode_vlist
from protocol.rest_json import value_from_json
from protocol.site_info import decode_site_info
from protocol.value_codec import decode_value, decode_values

from .strategies import messages


def decode_image(blob: bytes) -> tuple[Any, ...]:
    """A stored record image read and decoded (:mod:`protocol.record_image`)."""
    image = RecordImage.read(blob)
    return () if image is None else (image.expiry(0.0, 1.0), *image)


DECODERS: list[Callable[[bytes], Any]] = [
    decode_image,
    decode_value,
    decode_values,
    decode_site_info,
    decode_admin_record,
    decode_vlist,
    decode_key_numbers,
    decode_credential,
    decode_envelope,
    decode_packet,
]


def only_protocol_errors(fn: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        fn(data)


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda f: f.__name__)
@given(data=st.binary(max_size=300))
def test_random_bytes(decoder: Callable[[bytes], Any], data: bytes) -> None:
    only_protocol_errors(decoder, data)


def _decode_body(raw: bytes) -> Message:
    return decode_message(Envelope(message_length=len(raw)), raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.data())
def test_truncated_and_bit_flipped_messages(msg: Message, data: st.DataObject) -> None:
    raw = encode_message(msg)
    cut = data.draw(st.integers(0, len(raw)))
    only_protocol_errors(_decode_body, raw[:cut])
    packet = encode_tcp(msg)
    only_protocol_errors(decode_packet, packet[:cut])
    flipped = bytearray(packet)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(flipped) - 1))
        flipped[pos] ^= 1 << data.draw(st.integers(0, 7))
    only_protocol_errors(decode_packet, bytes(flipped))


@settings(max_examples=200)
@given(messages(), st.data())
def test_oversized_lengths(msg: Message, data: st.DataObject) -> None:
    """Overwrite any aligned four octets with a huge or negative length."""
    raw = bytearray(encode_message(msg))
    if len(raw) < 4:
        return
    pos = data.draw(st.integers(0, len(raw) - 4))
    value = data.draw(st.sampled_from([0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x00FFFFFF, 1 << 20]))
    raw[pos : pos + 4] = struct.pack(">I", value)
    only_protocol_errors(_decode_body, bytes(raw))


def test_huge_counts_do_not_allocate() -> None:
    # a value list claiming 2**31-1 values in 8 bytes must fail at once
    with pytest.raises(ProtocolError):
        decode_values(b"\x7f\xff\xff\xff" + b"\0" * 4)
    with pytest.raises(ProtocolError):
        decode_vlist(b"\x00\x10\x00\x00")
    with pytest.raises(ProtocolError):
        decode_envelope(b"\x02\x0a\x02\x0a" + b"\0" * 12 + b"\x7f\xff\xff\xff")
    with pytest.raises(ProtocolError):
        decode_envelope(b"\x02\x0a\x02\x0a" + b"\0" * 12 + b"\xff\xff\xff\xff")


@given(st.lists(st.binary(max_size=600), max_size=10))
def test_udp_reassembler_random(datagrams: list[bytes]) -> None:
    r = UdpReassembler(max_pending=4, max_message_size=4000, max_total_bytes=3000)
    for i, dg in enumerate(datagrams):
        with contextlib.suppress(ProtocolError):
            r.add(("peer", i % 2), dg, now=float(i))
        assert r.buffered_bytes <= 3000


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(
        [
            "site",
            "admin",
            "vlist",
            "key",
            "base64",
            "hex",
            "string",
            "RSA",
            "DSA",
            "1.2.3.4",
            "2.10",
            "*",
            "0110",
            "AQAB",
            "2024-01-02T03:04:05Z",
            "TCP",
            "::1",
        ]
    ),
)
json_trees = st.recursive(
    json_leaves,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "index",
                    "type",
                    "data",
                    "format",
                    "value",
                    "ttl",
                    "timestamp",
                    "permissions",
                    "references",
                    "handle",
                    "servers",
                    "kty",
                    "n",
                    "e",
                    "address",
                    "serverId",
                ]
            ),
            kids,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


@given(json_trees)
def test_rest_json_garbage(obj: Any) -> None:
    only_protocol_errors(value_from_json, obj)


def test_encrypted_or_compressed_envelope_is_refused() -> None:
    for flags in ({"encrypted": True}, {"compressed": True}):
        with pytest.raises(ProtocolError):
            decode_message(Envelope(message_length=28, **flags), bytes(28))
