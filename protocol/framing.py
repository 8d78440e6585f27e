"""Framing of encoded messages for TCP and UDP.

TCP: each message is an envelope followed by ``message_length`` bytes.
UDP: a message longer than ``MAX_UDP_DATA_SIZE`` (512 - 20 = 492) bytes is cut
into pieces of 492 bytes, each sent behind its own copy of the envelope whose
``sequence_number`` is the piece number and whose ``message_length`` is the
length of the whole message (CNRI ``HdlUdpRequestHandler`` /
``HandleResolver.sendHdlUdpRequest``).  :class:`UdpReassembler` puts them back
together with bounded memory.  An HTTP body of Handle messages
(``NativeServlet``) holds frames back to back exactly as TCP does
(:func:`split_frames`, :func:`encode_frames`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from protocol.constants import MAX_MESSAGE_SIZE, MAX_UDP_DATA_SIZE, MESSAGE_ENVELOPE_SIZE
from protocol.envelope import Envelope, decode_envelope, encode_envelope, pack_envelope
from protocol.errors import ProtocolError
from protocol.message import Message, decode_message, encode_message


def encode_tcp(msg: Message, *, as_received: bool = False) -> bytes:
    """Envelope + message, ready to write to a TCP stream (or to keep, for
    :func:`decode_packet`: ``as_received`` keeps a decoded message's own bytes)."""
    body = encode_message(msg, as_received=as_received)
    return pack_envelope(len(body), msg.request_id, msg.session_id, msg.major_version,
                         msg.minor_version, msg.suggest_major_version,
                         msg.suggest_minor_version) + body


def decode_packet(data: bytes, max_message_size: int = MAX_MESSAGE_SIZE) -> Message:
    """Decode one envelope + message held in a single buffer."""
    env = decode_envelope(data, max_message_size)
    return decode_message(env, data[MESSAGE_ENVELOPE_SIZE:], max_message_size)


class BadEnvelope(ProtocolError):
    """A TCP frame whose envelope does not decode; ``head`` is its raw bytes (a server
    answers with the ids it holds)."""

    def __init__(self, head: bytes, problem: ProtocolError) -> None:
        super().__init__(str(problem), problem.response_code)
        self.head = head


class TruncatedFrame(ProtocolError):
    """A buffer that ends inside the message its ``envelope`` announces (the text is
    CNRI ``NativeServlet``'s)."""

    def __init__(self, envelope: Envelope, received: int) -> None:
        super().__init__(
            f"Expecting {envelope.message_length} bytes, only received {received}")
        self.envelope = envelope


def _envelope(head: bytes, max_message_size: int) -> Envelope:
    try:
        return decode_envelope(head, max_message_size)
    except ProtocolError as exc:
        raise BadEnvelope(head[:MESSAGE_ENVELOPE_SIZE], exc) from None


def split_frames(
    data: bytes, max_message_size: int = MAX_MESSAGE_SIZE
) -> Iterator[tuple[Envelope, bytes]]:
    """The frames (envelope, message bytes) held back to back in one buffer, as a TCP
    stream carries them: the body of a Handle-over-HTTP request or answer
    (``application/x-hdl-message``).  :class:`BadEnvelope` for an envelope that does
    not decode, :class:`TruncatedFrame` when ``data`` ends inside a message."""
    offset = 0
    while offset < len(data):
        env = _envelope(data[offset:offset + MESSAGE_ENVELOPE_SIZE], max_message_size)
        start = offset + MESSAGE_ENVELOPE_SIZE
        message = data[start:start + env.message_length]
        if len(message) < env.message_length:
            raise TruncatedFrame(env, len(message))
        yield env, message
        offset = start + env.message_length


def encode_frames(messages: Iterable[Message]) -> bytes:
    """Messages back to back as :func:`split_frames` reads them."""
    return b"".join(encode_tcp(msg) for msg in messages)


def read_envelope(buffer: bytes | bytearray, max_message_size: int = MAX_MESSAGE_SIZE
                  ) -> Envelope:
    """The envelope at the start of ``buffer`` (at least its size): as
    :func:`read_tcp_frame` reads it, :class:`BadEnvelope` when it does not decode."""
    return _envelope(bytes(buffer[:MESSAGE_ENVELOPE_SIZE]), max_message_size)


async def read_tcp_frame(
    reader: asyncio.StreamReader, max_message_size: int = MAX_MESSAGE_SIZE, first: bytes = b""
) -> tuple[Envelope, bytes]:
    """The next envelope and message bytes of a TCP stream (``first``: bytes of it
    already read).  :class:`BadEnvelope` for an envelope that does not decode (longer
    than ``max_message_size`` included); ``asyncio.IncompleteReadError`` at the end."""
    head = first + await reader.readexactly(MESSAGE_ENVELOPE_SIZE - len(first))
    env = _envelope(head, max_message_size)
    return env, await reader.readexactly(env.message_length)


def encode_udp(
    msg: Message, max_data: int = MAX_UDP_DATA_SIZE, mark_truncated: bool | None = None
) -> list[bytes]:
    """The datagrams carrying ``msg``.  ``mark_truncated`` sets the envelope's
    truncated flag on multi-packet messages; by default requests set it (as the
    CNRI client does) and responses do not (as the CNRI server does)."""
    if max_data <= 0:
        raise ProtocolError("max_data must be positive")
    body = encode_message(msg)
    pieces = [body[i : i + max_data] for i in range(0, len(body), max_data)] or [b""]
    if mark_truncated is None:
        mark_truncated = msg.is_request
    if len(pieces) == 1:  # the common answer: one datagram, sequence 0, not truncated
        return [encode_envelope(msg.envelope(len(body))) + pieces[0]]
    # sequence 0; the others differ in octets 12-15 (the sequence number) only
    head = encode_envelope(msg.envelope(len(body), truncated=bool(mark_truncated)))
    return [head[:12] + i.to_bytes(4, "big") + head[16:] + piece
            for i, piece in enumerate(pieces)]


@dataclass(slots=True)
class _Pending:
    envelope: Envelope
    expires: float
    pieces: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class UdpReassembler:
    """Collects UDP pieces per sender key until a message is complete.

    Bounded: at most ``max_pending`` incomplete messages and ``max_total_bytes``
    buffered bytes; messages longer than ``max_message_size`` are refused;
    incomplete messages are dropped ``timeout`` seconds after their first piece.
    A piece that disagrees with the others (length, version, ids, size for its
    position, or different bytes for a repeated piece) raises ProtocolError and
    drops the whole message.  Time is passed in (``now``) so this stays pure.
    """

    def __init__(
        self,
        max_pending: int = 1024,
        max_message_size: int = 256 * 1024,
        max_total_bytes: int = 8 * 1024 * 1024,
        timeout: float = 10.0,
        max_data: int = MAX_UDP_DATA_SIZE,
    ) -> None:
        self.max_pending = max_pending
        self.max_message_size = max_message_size
        self.max_total_bytes = max_total_bytes
        self.timeout = timeout
        self.max_data = max_data
        self._pending: dict[Hashable, _Pending] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for incomplete messages."""
        return self._total

    def expire(self, now: float) -> int:
        """Drop incomplete messages that are too old; return how many were dropped."""
        old = [k for k, p in self._pending.items() if p.expires <= now]
        for k in old:
            self._drop(k)
        return len(old)

    def _drop(self, key: Hashable) -> None:
        p = self._pending.pop(key, None)
        if p is not None:
            self._total -= p.size

    def add(self, key: Hashable, datagram: bytes, now: float) -> tuple[Envelope, bytes] | None:
        """Add one datagram from sender ``key`` (e.g. (address, port)).

        Returns (envelope, message bytes) when the message is complete, else None.
        """
        env = decode_envelope(datagram, self.max_message_size)
        piece = datagram[MESSAGE_ENVELOPE_SIZE:]
        length = env.message_length
        npieces = max(1, -(-length // self.max_data))
        seq = env.sequence_number
        if not 0 <= seq < npieces:
            raise ProtocolError(f"UDP piece {seq} outside 0..{npieces - 1}")
        expect = min(self.max_data, length - seq * self.max_data)
        if len(piece) < expect:
            raise ProtocolError(f"UDP piece {seq} has {len(piece)} bytes, expected {expect}")
        piece = piece[:expect]
        if npieces == 1:
            return env, piece
        full_key = (key, env.request_id)
        pending = self._pending.get(full_key)
        if pending is None:
            self.expire(now)
            if len(self._pending) >= self.max_pending:
                raise ProtocolError("too many incomplete UDP messages", 3)
            pending = _Pending(env, now + self.timeout)
            self._pending[full_key] = pending
        else:
            first = pending.envelope
            if replace(env, sequence_number=first.sequence_number) != first:
                self._drop(full_key)
                raise ProtocolError("UDP piece does not match the rest of its message")
        old = pending.pieces.get(seq)
        if old is not None:
            if old != piece:
                self._drop(full_key)
                raise ProtocolError("UDP piece repeated with different content")
            return None
        if self._total + len(piece) > self.max_total_bytes:
            self._drop(full_key)
            raise ProtocolError("UDP reassembly buffer full", 3)
        pending.pieces[seq] = piece
        pending.size += len(piece)
        self._total += len(piece)
        if len(pending.pieces) < npieces:
            return None
        self._drop(full_key)
        message = b"".join(pending.pieces[i] for i in range(npieces))
        return replace(pending.envelope, sequence_number=0), message
