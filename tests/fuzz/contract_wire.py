"""Fuzz contract of the Handle wire codec: envelope, message, UDP reassembly.

A contract in the sense of :mod:`tests.fuzz`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from protocol.constants import MESSAGE_ENVELOPE_SIZE
from protocol.envelope import decode_envelope
from protocol.errors import ProtocolError
from protocol.framing import UdpReassembler
from protocol.message import decode_message, encode_message
from resolver.core.limits import DEFAULT_LIMITS

#: the servers' bound on one message (what a hostile length field may claim)
MESSAGE_LIMIT = DEFAULT_LIMITS.max_message_size
#: the bound the reassembler is run with, small so the fuzzer can reach it
REASSEMBLY_BYTES = 4096



def check_wire(data: bytes) -> None:
    """Envelope + message decoding, re-encoding, TCP deframing and UDP reassembly
    of ``data`` raise nothing but ProtocolError and respect their bounds."""
    _decode_and_reencode(data)
    _reassemble(data)


def _decode_and_reencode(data: bytes) -> None:
    try:
        env = decode_envelope(data, MESSAGE_LIMIT)
        msg = decode_message(env, data[MESSAGE_ENVELOPE_SIZE:], MESSAGE_LIMIT)
    except ProtocolError:
        return
    with contextlib.suppress(ProtocolError):
        encode_message(msg)  # a server echoes decoded fields back


def datagrams(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split ``data`` into (sender, datagram) pairs: each is one sender byte, a
    two-byte big-endian length, then that many bytes (the last may be short)."""
    pos = 0
    while pos + 3 <= len(data):
        sender, size = data[pos] & 0x03, int.from_bytes(data[pos + 1 : pos + 3], "big")
        yield sender, data[pos + 3 : pos + 3 + size]
        pos += 3 + size


def _reassemble(data: bytes) -> None:
    reassembler = UdpReassembler(
        max_pending=4, max_message_size=MESSAGE_LIMIT, max_total_bytes=REASSEMBLY_BYTES
    )
    for now, (sender, datagram) in enumerate(datagrams(data)):
        try:
            complete = reassembler.add(sender, datagram, float(now))
        except ProtocolError:
            continue
        assert len(reassembler) <= 4 and reassembler.buffered_bytes <= REASSEMBLY_BYTES
        if complete is not None:
            env, message = complete
            assert len(message) == env.message_length
            _decode_and_reencode(datagram[:MESSAGE_ENVELOPE_SIZE] + message)
