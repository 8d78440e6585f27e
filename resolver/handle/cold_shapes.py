"""Cold UDP answers laid out from the request's shape: no decode, no message objects.

A plain resolution of a record that is not kept yet (:mod:`resolver.handle.hot_path`)
went the whole way: reassembly, a full decode of the request, a ``Message`` for the
response and its encoding into datagrams: about 20 µs of a cold answer's CPU once the
record itself comes as its stored image (:mod:`protocol.record_image`, issue 17).  But
for a request for all values, without session, signature, credential, certification
or request digest,
the response's envelope and header depend only on the request's envelope and header
(its versions, flags, op code, recursion count), not on the handle; its body is the
handle and the image's bytes.  So the first such answer of every request shape (the
request's bytes but for its id, lengths and handle) is made the ordinary way and its
layout learned (:meth:`ColdShapes.learn`): the first 8 octets of the response's
envelope and the first 16 of its header.  The next request of that shape, for any
record anyone may read whole (:func:`resolver.core.service.whole_image`), is answered
by laying those out around the handle and the image (:meth:`ColdShape.kept`), cut
exactly as :func:`protocol.framing.encode_udp` cuts a message and kept as
:class:`~resolver.handle.hot_path.KeptDatagrams` keeps an answer's datagrams (the
datagrams themselves are never made: the answer is sent as the kept answer's replay):
a shape is learned only if laying out the very answer it was learned from keeps the
same pieces, byte for byte, as keeping its datagrams does, so a learned shape can never
answer differently from the ordinary path.

What is answered from a shape is still resolved by
:meth:`resolver.core.service.ResolutionService.resolve_now` (name checks, suspension,
the usage statistics, the cache), or by ``resolve`` in a task when that has to wait (a
read on a reader thread or from PostgreSQL: the task still neither decodes the request
nor encodes a message), and kept for replay as any answer is.  Shapes are learned from
answers made on the loop and in tasks alike (a PostgreSQL node makes only the latter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol.bodies import ResolutionResponse
from protocol.constants import (
    MESSAGE_ENVELOPE_SIZE,
    MSG_FLAG_AUTH,
    MSG_FLAG_CERT,
    MSG_FLAG_RRDG,
)
from protocol.message import Message
from protocol.record_image import wire_of
from resolver.handle.hot_path import BODY_AT, NAME_AT, HotRequest, KeptDatagrams, short_pieces

_HEADER = MESSAGE_ENVELOPE_SIZE  # where the message header starts
#: what follows the handle in a request for all values: no indexes, no types, no signature
_NOTHING_MORE = bytes(12)
_MAX_SHAPES = 64
#: request flags whose answers are never laid out from a shape: a certified or an
#: authoritative answer, a request digest (the recursive flag is not copied into a
#: response: the listener clears it as it does for any request, and a record is found
#: the same way with it or without)
_NOT_SHAPED = MSG_FLAG_CERT | MSG_FLAG_AUTH | MSG_FLAG_RRDG


def shape_key(datagram: bytes, request: HotRequest) -> bytes | None:
    """The shape of a request for all values of a handle (None: another request):
    its envelope and header without the request id and the lengths."""
    end = NAME_AT + int.from_bytes(datagram[BODY_AT:NAME_AT], "big")
    if (
        datagram[end:] != _NOTHING_MORE
        or int.from_bytes(datagram[_HEADER + 20:BODY_AT], "big") != end + 8 - BODY_AT
        or int.from_bytes(datagram[_HEADER + 8:_HEADER + 12], "big") & _NOT_SHAPED
    ):
        return None
    return datagram[:8] + datagram[12:16] + datagram[_HEADER:_HEADER + 16]


@dataclass(frozen=True, slots=True)
class ColdShape:
    """What a response to one request shape is made of around its handle and values."""

    envelope: bytes  # octets 0-7 of every datagram's envelope
    header: bytes  # octets 0-15 of the message header
    authoritative: bool  # the response's authoritative flag it was learned with
    response: Message  # the response it was learned from (for the use-TCP reply)
    #: the use-TCP reply's pieces (:func:`resolver.handle.hot_path.short_pieces`)
    short: tuple[bytes, bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "short", short_pieces(self.response))

    def kept(self, handle: bytes, wire: bytes) -> KeptDatagrams:
        """The answer with the values ``wire`` (a counted value list) of ``handle`` (its
        UTF-8 bytes) as :class:`KeptDatagrams` keeps the datagrams of such a response
        (its :meth:`~KeptDatagrams.replay` gives them), without making them first."""
        body = len(handle).to_bytes(4, "big") + handle + wire
        message = b"".join((self.header, bytes(4), len(body).to_bytes(4, "big"), body,
                            bytes(4)))
        return KeptDatagrams.laid_out(self.envelope, message, self.short)


class ColdShapes:
    """The shapes learned so far (bounded: a few kinds of request come from real clients;
    past :data:`_MAX_SHAPES` no more are learned)."""

    def __init__(self) -> None:
        self._shapes: dict[bytes, ColdShape] = {}

    def get(self, key: bytes | None) -> ColdShape | None:
        """The shape learned for ``key`` (:func:`shape_key`), if any."""
        return None if key is None else self._shapes.get(key)

    def learn(self, key: bytes | None, handle: str, response: Message,
              full: Sequence[bytes]) -> None:
        """Learn ``key``'s shape from ``response``, sent as ``full``, if it answers a
        request for all values of ``handle`` with a record image and laying it out again
        gives ``full`` exactly."""
        if key is None or key in self._shapes or len(self._shapes) >= _MAX_SHAPES:
            return
        body = response.body
        if not isinstance(body, ResolutionResponse) or response.signature:
            return
        wire = wire_of(body.values)
        first = full[0]
        if wire is None or len(first) < BODY_AT:
            return
        shape = ColdShape(first[:8], first[_HEADER:_HEADER + 16], response.authoritative,
                          response)
        if shape.kept(handle.encode(), wire).pieces() == KeptDatagrams(full, response).pieces():
            self._shapes[key] = shape
