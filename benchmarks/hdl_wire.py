"""Handle protocol requests and lightweight response parsing for load generators.

Requests are built with the real codec (:mod:`protocol`).  Responses are not
decoded value by value: a load generator only needs to know which request a
datagram answers, when all pieces of a response are in and its response
code, so it reads the 20-byte envelope and the response code in the message
header.  That keeps the client's cost per request small and the same for the
node and the baselines.

An RC_ERROR answer over UDP means "ask over TCP" (an idnode refuses UDP
answers over its amplification cap that way; CNRI clients and
:class:`resolver.core.client.HandleClient` then move on to TCP): load generators
do the same, with a new TCP connection as those clients do.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

from protocol.bodies import ResolutionRequest
from protocol.constants import (
    MAX_UDP_DATA_SIZE,
    MESSAGE_ENVELOPE_SIZE,
    OC_RESOLUTION,
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_SUCCESS,
)
from protocol.envelope import decode_envelope, encode_envelope
from protocol.framing import encode_tcp, encode_udp
from protocol.message import Message

ENVELOPE = struct.Struct(">BBBBiiii")
_INT32 = struct.Struct(">i")
_REQUEST_ID_OFFSET = 8
_RESPONSE_CODE_OFFSET = MESSAGE_ENVELOPE_SIZE + 4
EXPECTED_CODE = {"hit": RC_SUCCESS, "cross": RC_SUCCESS, "miss": RC_HANDLE_NOT_FOUND}
USE_TCP_CODE = RC_ERROR


def _request(handle: str, request_id: int) -> Message:
    return Message(op_code=OC_RESOLUTION, body=ResolutionRequest(handle),
                   request_id=request_id)


def resolution_datagram(handle: str, request_id: int) -> bytes:
    """A public, recursive resolution request for ``handle`` as one UDP datagram."""
    datagrams = encode_udp(_request(handle, request_id))
    if len(datagrams) != 1:
        raise ValueError(f"handle too long for one datagram: {handle!r}")
    return datagrams[0]


def resolution_frame(handle: str, request_id: int) -> bytes:
    """The same request framed for TCP."""
    return encode_tcp(_request(handle, request_id))


def request_id_of(packet: bytes) -> int:
    """The request id in a packet's envelope."""
    return int(_INT32.unpack_from(packet, _REQUEST_ID_OFFSET)[0])


def with_request_id(packet: bytes, request_id: int) -> bytes:
    """``packet`` with its envelope's request id replaced (canned responses)."""
    return packet[:_REQUEST_ID_OFFSET] + _INT32.pack(request_id) + packet[12:]


def response_code(first_packet: bytes) -> int:
    """The response code of a message whose first piece (or TCP frame) is given."""
    return int(_INT32.unpack_from(first_packet, _RESPONSE_CODE_OFFSET)[0])


def message_length(packet: bytes) -> int:
    """The length of the whole message after the envelope."""
    return int(ENVELOPE.unpack_from(packet)[7])


def udp_pieces(frame: bytes) -> list[bytes]:
    """The datagrams carrying the message of TCP ``frame`` (as a server splits it)."""
    envelope = decode_envelope(frame[:MESSAGE_ENVELOPE_SIZE])
    body = frame[MESSAGE_ENVELOPE_SIZE:]
    return [encode_envelope(replace(envelope, sequence_number=n)) + body[i:i + MAX_UDP_DATA_SIZE]
            for n, i in enumerate(range(0, len(body), MAX_UDP_DATA_SIZE))]


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes from a blocking (or gevent) TCP socket."""
    chunks, left = [], n
    while left:
        chunk = sock.recv(left)
        if not chunk:
            raise ConnectionError("server closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def tcp_resolve_frame(sock: socket.socket, handle: str, request_id: int) -> bytes:
    """Resolve ``handle`` over a connected TCP socket; the response frame."""
    sock.sendall(resolution_frame(handle, request_id))
    while True:
        head = recv_exactly(sock, MESSAGE_ENVELOPE_SIZE)
        frame = head + recv_exactly(sock, message_length(head))
        if request_id_of(head) == request_id:
            return frame


@dataclass(slots=True)
class _Partial:
    needed: int
    seen: set[int]
    code: int = -1
    size: int = 0


@dataclass(frozen=True, slots=True)
class Completed:
    """A response whose pieces have all arrived."""

    request_id: int
    response_code: int
    size: int


class UdpResponses:
    """Counts the pieces of UDP responses; :meth:`add` says when one is complete.

    ``wanted`` tells whether a request id is still awaited: pieces of other
    responses (late answers to requests given up on) are dropped.
    """

    def __init__(self, wanted: Callable[[int], bool]) -> None:
        self.wanted = wanted
        self.partial: dict[int, _Partial] = {}

    def add(self, datagram: bytes) -> Completed | None:
        """Take one datagram; the completed response when this was its last piece."""
        if len(datagram) < MESSAGE_ENVELOPE_SIZE:
            return None
        *_, request_id, sequence, length = ENVELOPE.unpack_from(datagram)
        if not self.wanted(request_id):
            self.partial.pop(request_id, None)
            return None
        part = self.partial.get(request_id)
        if part is None:
            needed = max(1, -(-length // MAX_UDP_DATA_SIZE))
            part = self.partial[request_id] = _Partial(needed, set())
        part.seen.add(sequence)
        part.size += len(datagram)
        if sequence == 0:
            part.code = response_code(datagram)
        if len(part.seen) < part.needed:
            return None
        del self.partial[request_id]
        return Completed(request_id, part.code, part.size)

    def forget(self, request_id: int) -> None:
        """Drop what arrived for a request that was given up on."""
        self.partial.pop(request_id, None)
