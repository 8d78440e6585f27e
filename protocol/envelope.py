"""The 20-byte message envelope (RFC 3652 section 2.2.1, ``Encoder.encodeEnvelope``).

Layout::

    major:int1 minor:int1 flags|suggest_major:int1 suggest_minor:int1
    session_id:int4 request_id:int4 sequence_number:int4 message_length:int4

Byte 2 carries the compressed/encrypted/truncated flags in its top bits and
the suggested major version in its low two bits (CNRI 2.8+).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol.constants import (
    ENV_FLAG_COMPRESSED,
    ENV_FLAG_ENCRYPTED,
    ENV_FLAG_TRUNCATED,
    MAX_MESSAGE_SIZE,
    MESSAGE_ENVELOPE_SIZE,
    PROTOCOL_MAJOR_VERSION,
    PROTOCOL_MINOR_VERSION,
)
from protocol.errors import ProtocolError

_ENVELOPE = struct.Struct(">BBBBiiii")


@dataclass(frozen=True, slots=True)
class Envelope:
    """Decoded envelope.  ``message_length`` counts the bytes after the envelope
    (for UDP: after the envelope of *this* datagram's message as a whole)."""

    message_length: int
    request_id: int = 0
    session_id: int = 0
    sequence_number: int = 0
    major_version: int = PROTOCOL_MAJOR_VERSION
    minor_version: int = PROTOCOL_MINOR_VERSION
    suggest_major_version: int = PROTOCOL_MAJOR_VERSION
    suggest_minor_version: int = PROTOCOL_MINOR_VERSION
    compressed: bool = False
    encrypted: bool = False
    truncated: bool = False


def encode_envelope(env: Envelope) -> bytes:
    """The 20 envelope bytes."""
    flags = (
        (ENV_FLAG_COMPRESSED if env.compressed else 0)
        | (ENV_FLAG_ENCRYPTED if env.encrypted else 0)
        | (ENV_FLAG_TRUNCATED if env.truncated else 0)
    )
    return pack_envelope(env.message_length, env.request_id, env.session_id,
                         env.major_version, env.minor_version, env.suggest_major_version,
                         env.suggest_minor_version, env.sequence_number, flags)


def pack_envelope(message_length: int, request_id: int, session_id: int, major_version: int,
                  minor_version: int, suggest_major_version: int, suggest_minor_version: int,
                  sequence_number: int = 0, flags: int = 0) -> bytes:
    """The 20 envelope bytes of these fields (``flags``: the ``ENV_FLAG_*``), without an
    :class:`Envelope` made for them (a TCP answer's)."""
    if not 0 <= suggest_major_version <= 3:
        raise ProtocolError(f"suggested major version {suggest_major_version} does not fit")
    try:
        return _ENVELOPE.pack(
            major_version,
            minor_version,
            flags | suggest_major_version,
            suggest_minor_version,
            _s32(session_id),
            _s32(request_id),
            _s32(sequence_number),
            message_length,
        )
    except struct.error as exc:
        raise ProtocolError(f"envelope field out of range: {exc}") from None


def _s32(v: int) -> int:
    if not -0x80000000 <= v <= 0xFFFFFFFF:
        raise ProtocolError(f"envelope field out of range: {v}")
    return v - 0x100000000 if v >= 0x80000000 else v


def decode_envelope(data: bytes, max_message_size: int = MAX_MESSAGE_SIZE) -> Envelope:
    """Decode the first 20 bytes of ``data`` (``Encoder.decodeEnvelope``).

    A zero suggested major version means "same as the envelope version", as in
    CNRI.  A message length below zero or above ``max_message_size`` is rejected.
    """
    if len(data) < MESSAGE_ENVELOPE_SIZE:
        raise ProtocolError("invalid message envelope: too short")
    major, minor, b2, suggest_minor, session_id, request_id, seq, length = _ENVELOPE.unpack_from(
        data, 0
    )
    suggest_major = b2 & 0x03
    if suggest_major == 0:
        suggest_major, suggest_minor = major, minor
    if length < 0 or length > max_message_size:
        raise ProtocolError(f"invalid message length: {length}")
    return Envelope(
        message_length=length,
        request_id=request_id,
        session_id=session_id,
        sequence_number=seq,
        major_version=major,
        minor_version=minor,
        suggest_major_version=suggest_major,
        suggest_minor_version=suggest_minor,
        compressed=bool(b2 & ENV_FLAG_COMPRESSED),
        encrypted=bool(b2 & ENV_FLAG_ENCRYPTED),
        truncated=bool(b2 & ENV_FLAG_TRUNCATED),
    )
