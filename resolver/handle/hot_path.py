"""The UDP fast path: repeated plain resolution requests answered from kept datagrams.

Most of what a resolver hears is the same few handles asked again and again,
each in one datagram with no credential and no session.  The first such
request for a record goes the ordinary way (decode, resolve, encode); the
datagrams sent back are then kept with the record (also when the record was
fetched for that very request, unless the cache dropped, replaced or evicted
anything meanwhile: :meth:`resolver.core.hot.HotAnswers.added_since`)
(:class:`resolver.core.hot.HotAnswers`) under the request's own bytes minus
its request id: all the datagrams of the answer and its short use-TCP reply,
so the amplification cap (:mod:`resolver.handle.amplification`) picks
between them per request exactly as for a fresh answer.  The next request
with the same bytes is answered by copying those datagrams with two fields
patched: the request id (envelope octets 8-11 of every datagram) and the
expiration (header octets 16-19 of the first one, and of the use-TCP reply),
computed exactly as :func:`protocol.message.make_response` does; the kept
datagrams are stored already cut at those fields (:class:`KeptDatagrams`), so a
replay is one ``join`` per datagram, or one for the whole answer when it goes out in
one segmented call (:mod:`resolver.handle.udp_send`).  So a kept
answer is byte-identical to a freshly encoded one, and costs a parse of
the handle's name, two dict lookups and one ``sendto``: no task, no decode,
no encode.

Anything that would make the answer depend on more than the request bytes
and the record is never kept: a session or a credential in the request, a
signed response, more than one response, another response code than
RC_SUCCESS (a challenge carries a fresh nonce), an AT (authoritative) request
(answered from the record's authority, never from a cache).  Keys are the whole request
(flags, versions, requested types and indexes included), so two requests
share a kept answer only when they are the same request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol.constants import MAX_UDP_DATA_SIZE, MESSAGE_ENVELOPE_SIZE, OC_RESOLUTION, RC_SUCCESS
from protocol.message import EXPIRATION_OFFSET, Message, response_expiration
from resolver.handle.amplification import use_tcp_reply
from resolver.handle.udp_send import segment_size

_RESOLUTION = OC_RESOLUTION.to_bytes(4, "big")
_NO_SESSION = bytes(4)
_ID = slice(8, 12)
_EXPIRES = MESSAGE_ENVELOPE_SIZE + EXPIRATION_OFFSET
#: where a request's body starts (envelope, then the 24-octet message header) and the
#: handle's octets in it (after their length)
BODY_AT = MESSAGE_ENVELOPE_SIZE + 24
NAME_AT = BODY_AT + 4


@dataclass(frozen=True, slots=True)
class HotRequest:
    """A single-datagram resolution request outside any session: the handle it
    names and the request's bytes without its id (the key of a kept answer)."""

    handle: str
    form: bytes


def hot_request(datagram: bytes) -> HotRequest | None:
    """The request in ``datagram`` if it may be answered from kept datagrams, else None."""
    if (
        len(datagram) < NAME_AT
        or datagram[MESSAGE_ENVELOPE_SIZE:MESSAGE_ENVELOPE_SIZE + 4] != _RESOLUTION
        or datagram[4:8] != _NO_SESSION
        or int.from_bytes(datagram[16:20], "big") != len(datagram) - MESSAGE_ENVELOPE_SIZE
    ):
        return None
    end = NAME_AT + int.from_bytes(datagram[BODY_AT:NAME_AT], "big")
    if end > len(datagram):
        return None
    try:
        handle = datagram[NAME_AT:end].decode()
    except UnicodeDecodeError:
        return None
    return HotRequest(handle, datagram[:8] + datagram[12:])


def keepable(request: Message, responses: Sequence[Message]) -> bool:
    """Whether ``responses`` answer ``request`` the same way for every asker of the
    same bytes (see the module docstring)."""
    if len(responses) != 1:
        return False
    response = responses[0]
    return (
        request.session_id == 0
        and not request.signature
        and not request.authoritative
        and response.response_code == RC_SUCCESS
        and response.signature is None
        and response.session_id == 0
    )


class KeptDatagrams:
    """An answer's datagrams and its use-TCP reply, cut where :meth:`replay` patches
    them (kept with the record; see the module docstring)."""

    __slots__ = (
        "charge",
        "head",
        "middle",
        "rest",
        "segment",
        "short_head",
        "short_middle",
        "short_tail",
        "size",
        "tail",
    )

    def __init__(self, full: Sequence[bytes], response: Message) -> None:
        """``full``: the datagrams of ``response``."""
        first = full[0]
        self.head, self.middle, self.tail = first[:8], first[12:_EXPIRES], first[_EXPIRES + 4:]
        self.rest = tuple((d[:8], d[12:]) for d in full[1:])
        self.short_head, self.short_middle, self.short_tail = short_pieces(response)
        #: bytes sent for the full answer (against the amplification cap)
        self.size = sum(map(len, full))
        #: the datagram size to send the answer at in one segmented call (0: one by one;
        #: :mod:`resolver.handle.udp_send`)
        self.segment = segment_size([len(datagram) for datagram in full])
        #: what keeping this costs the cache's byte bound
        self.charge = _charge(self.size, (self.short_head, self.short_middle, self.short_tail))

    @classmethod
    def laid_out(cls, envelope: bytes, message: bytes, short: tuple[bytes, bytes, bytes]
                 ) -> KeptDatagrams:
        """What ``__init__`` keeps of the datagrams carrying ``message`` (the whole
        message, its expiration at :data:`~protocol.message.EXPIRATION_OFFSET`) under the
        envelope's first 8 octets ``envelope``, cut as :func:`protocol.framing.encode_udp`
        cuts it, with the use-TCP reply's ``short`` pieces (:func:`short_pieces`), without
        making the datagrams first (a cold answer laid out from its request's shape,
        :mod:`resolver.handle.cold_shapes`)."""
        kept = cls.__new__(cls)
        size = len(message)
        length = size.to_bytes(4, "big")
        first = message[:MAX_UDP_DATA_SIZE]
        expires_at = _EXPIRES - MESSAGE_ENVELOPE_SIZE
        kept.head = envelope
        kept.middle = b"".join((bytes(4), length, first[:expires_at]))
        kept.tail = first[expires_at + 4:]
        kept.rest = tuple((envelope, b"".join((number.to_bytes(4, "big"), length,
                                                message[start:start + MAX_UDP_DATA_SIZE])))
                          for number, start in enumerate(range(MAX_UDP_DATA_SIZE, size,
                                                               MAX_UDP_DATA_SIZE), 1))
        kept.short_head, kept.short_middle, kept.short_tail = short
        count = 1 + len(kept.rest)
        kept.size = size + count * MESSAGE_ENVELOPE_SIZE
        last = size - (count - 1) * MAX_UDP_DATA_SIZE + MESSAGE_ENVELOPE_SIZE
        kept.segment = segment_size((MESSAGE_ENVELOPE_SIZE + MAX_UDP_DATA_SIZE,) * (count - 1)
                                    + (last,))
        kept.charge = _charge(kept.size, short)
        return kept

    def pieces(self) -> tuple[object, ...]:
        """Everything kept, to compare two of them."""
        return tuple(getattr(self, name) for name in self.__slots__)

    def replay(self, request_id: bytes) -> list[bytes]:
        """The answer's datagrams under ``request_id`` (the request's octets 8-11),
        expiring as an answer made now."""
        expires = response_expiration().to_bytes(4, "big", signed=True)
        out = [b"".join((self.head, request_id, self.middle, expires, self.tail))]
        if self.rest:
            out.extend(b"".join((head, request_id, tail)) for head, tail in self.rest)
        return out

    def replay_joined(self, request_id: bytes) -> bytes:
        """:meth:`replay`'s datagrams laid end to end (for one segmented send)."""
        expires = response_expiration().to_bytes(4, "big", signed=True)
        pieces = [self.head, request_id, self.middle, expires, self.tail]
        for head, tail in self.rest:
            pieces += (head, request_id, tail)
        return b"".join(pieces)

    def replay_short(self, request_id: bytes) -> bytes:
        """The use-TCP reply under ``request_id``, expiring as one made now."""
        expires = response_expiration().to_bytes(4, "big", signed=True)
        return b"".join((self.short_head, request_id, self.short_middle, expires,
                         self.short_tail))


def _charge(size: int, short: tuple[bytes, bytes, bytes]) -> int:
    """What keeping an answer of ``size`` octets with its use-TCP reply's ``short``
    pieces costs the cache's byte bound (the reply: its pieces, id and expiration)."""
    return size + 8 + len(short[0]) + len(short[1]) + len(short[2])


#: the use-TCP reply's pieces by the response fields they depend on (see short_pieces)
_SHORT_PIECES: dict[tuple[int, ...], tuple[bytes, bytes, bytes]] = {}
_SHORT_KEPT = 256


def short_pieces(response: Message) -> tuple[bytes, bytes, bytes]:
    """:func:`use_tcp_reply` of ``response`` cut as :class:`KeptDatagrams` keeps it,
    around the request id and the expiration.  The rest depends only on the envelope
    and header fields named in the key (neither on the body nor on the flags, which the
    reply replaces), so answers to the same kind of request share one copy, made once
    instead of once per kept answer."""
    key = (response.op_code, response.site_info_serial, response.recursion_count,
           response.session_id, response.major_version, response.minor_version,
           response.suggest_major_version, response.suggest_minor_version)
    pieces = _SHORT_PIECES.get(key)
    if pieces is None:
        short = use_tcp_reply(response)
        pieces = short[:8], short[12:_EXPIRES], short[_EXPIRES + 4:]
        if len(_SHORT_PIECES) >= _SHORT_KEPT:
            _SHORT_PIECES.clear()
        _SHORT_PIECES[key] = pieces
    return pieces
