"""A record's values stored as one blob ready for the wire: the record image.

A resolution that misses every cache used to read a record's ~15 value rows, build a
:class:`~protocol.values.HandleValue` from each and encode them all again for the
answer: about 90 µs of a 140 µs cold answer (issue 17).  The registry keeps, beside
the rows, each record's image: its values as the counted value list a resolution
response carries (:mod:`protocol.value_codec`), behind a short head that says what a
cache needs without decoding them.  Reading that one blob replaces reading the rows;
:class:`RecordImage` is a sequence of the values that decodes them only when
something asks for them (a request for some types or indexes, a REST render, a
permission check), and an answer to a plain resolution is sent as the image's bytes.

Layout, big-endian::

    format:u8 (IMAGE_FORMAT) flags:u8 (1: some relative TTL, 2: some absolute TTL)
    withheld:u32 (values without public read) min_relative:i32 min_absolute:i32
    count:u32 value* (exactly as a resolution response encodes them)

A blob of another format is no image (:meth:`RecordImage.read` gives None): the reader
takes the rows, and a later format is filled in by a migration.  A record whose
values do not survive the wire exactly (a field outside its signed 32-bit range, a
type that is not UTF-8, a list or a field longer than a decoder accepts) gets no image
(:func:`make_image` gives None), so an image always decodes to the values it was made
of, and its bytes are what encoding those values for an answer gives (tests).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from protocol.constants import MAX_ARRAY_SIZE, MAX_HANDLE_VALUES
from protocol.errors import ProtocolError
from protocol.value_codec import decode_values, type_field
from protocol.values import (
    PERM_ADMIN_READ,
    PERM_ADMIN_WRITE,
    PERM_PUBLIC_READ,
    PERM_PUBLIC_WRITE,
    TTL_TYPE_ABSOLUTE,
    TTL_TYPE_RELATIVE,
    HandleValue,
)
from protocol.wire import encode_utf8

IMAGE_FORMAT = 1
_HEAD = struct.Struct(">BBIii")
_FIXED = struct.Struct(">iiBiB")  # index, timestamp, ttl type, ttl, permissions
_U32 = struct.Struct(">I").pack
_I32 = struct.Struct(">i").pack
#: the references field of a value that has none
NO_REFERENCES = b"\0\0\0\0"
_RELATIVE, _ABSOLUTE = 1, 2


def make_image(values: Iterable[HandleValue], stamp: int = 0) -> bytes | None:
    """The image of a record whose ``values`` come in index order (a zero timestamp
    stored as ``stamp``, as the rows store it), or None when the values would not
    survive the wire exactly (see the module docstring)."""
    values = list(values)  # (walked twice: for the parts, then for the head)
    parts: list[bytes] = [b""]
    add = parts.extend
    heads = _HEADS
    try:
        for v in values:
            data = v.data
            if len(data) > MAX_ARRAY_SIZE:
                return None
            head = (v.index, v.timestamp or stamp, v.ttl_type, v.ttl, v.admin_read,
                    v.admin_write, v.public_read, v.public_write, v.type)
            add((heads.get(head) or value_head(head), _U32(len(data)),
                 data if type(data) is bytes else bytes(data),
                 references_field(v) if v.references else NO_REFERENCES))
    except (struct.error, ProtocolError):
        return None
    return image_of(parts, values_summary(values))


def values_summary(values: Iterable[HandleValue]) -> tuple[int, int, int, int] | None:
    """``(flags, withheld, min_relative, min_absolute)`` of an image's head for ``values``
    (see the module docstring), or None when a value has a TTL type a cache does not know
    (then the record gets no image)."""
    withheld = flags = 0
    min_relative = min_absolute = 0
    for v in values:
        ttl = v.ttl
        ttl_type = v.ttl_type
        if not v.public_read:
            withheld += 1
        if ttl_type == TTL_TYPE_RELATIVE:
            if not flags & _RELATIVE or ttl < min_relative:
                min_relative = ttl
            flags |= _RELATIVE
        elif ttl_type == TTL_TYPE_ABSOLUTE:
            if not flags & _ABSOLUTE or ttl < min_absolute:
                min_absolute = ttl
            flags |= _ABSOLUTE
        else:
            return None  # the cache knows no other kind of TTL
    return flags, withheld, min_relative, min_absolute


def image_of(parts: list[bytes], summary: tuple[int, int, int, int] | None) -> bytes | None:
    """The image whose values are ``parts[1:]``, four parts a value (fixed fields and type
    field, data length, data, references: as :func:`make_image` lays them out), behind the
    head of ``summary`` (:func:`values_summary`) written into ``parts[0]``; None when the
    summary is (a TTL type no cache knows) or there are too many values."""
    count = len(parts) // 4
    if summary is None or count > MAX_HANDLE_VALUES:
        return None
    parts[0] = _HEAD.pack(IMAGE_FORMAT, *summary) + _U32(count)
    return b"".join(parts)


#: a value's fixed fields and type field by their inputs (index, timestamp, TTL type, TTL,
#: the four permissions, type): the values of a bulk write repeat a few (bounded: cleared
#: when full)
_HEADS: dict[tuple[Any, ...], bytes] = {}
_HEADS_KEPT = 4096


def value_head(head: tuple[Any, ...]) -> bytes:
    """The fixed fields and the type field of a value with ``head`` (struct.error or
    ProtocolError when the wire cannot carry them); kept in :data:`_HEADS`."""
    index, timestamp, ttl_type, ttl, admin_read, admin_write, public_read, public_write, \
        type_name = head
    permissions = ((PERM_ADMIN_READ if admin_read else 0) | (PERM_ADMIN_WRITE if admin_write
                   else 0) | (PERM_PUBLIC_READ if public_read else 0)
                   | (PERM_PUBLIC_WRITE if public_write else 0))
    part = _FIXED.pack(index, timestamp, ttl_type, ttl, permissions) + type_field(type_name)
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.clear()
    _HEADS[head] = part
    return part


def references_field(value: HandleValue) -> bytes:
    """The counted references of ``value`` (strict: an index outside the signed range
    raises struct.error, a name that is not UTF-8 ProtocolError)."""
    out = [_U32(len(value.references))]
    for ref in value.references:
        name = encode_utf8(ref.handle)
        if len(name) > MAX_ARRAY_SIZE:
            raise ProtocolError("reference name too long")
        out += (_U32(len(name)), name, _I32(ref.index))
    return b"".join(out)


class RecordImage(Sequence[HandleValue]):
    """A record's values as its image: ``wire`` is the counted value list (what a
    resolution response carries), ``withheld`` how many of them anyone may not read;
    the values are decoded on first use (:meth:`decode`) and kept."""

    __slots__ = ("_decoded", "length", "min_absolute", "min_relative", "wire", "withheld")

    def __init__(self, wire: bytes, length: int, withheld: int,
                 min_relative: int | None, min_absolute: int | None) -> None:
        self.wire = wire
        self.length = length
        self.withheld = withheld
        self.min_relative = min_relative
        self.min_absolute = min_absolute
        self._decoded: tuple[HandleValue, ...] | None = None

    @classmethod
    def read(cls, blob: bytes | None) -> RecordImage | None:
        """The image stored as ``blob``, or None when it is none of this format."""
        if not blob or len(blob) < _HEAD.size + 4 or blob[0] != IMAGE_FORMAT:
            return None
        _format, flags, withheld, relative, absolute = _HEAD.unpack_from(blob)
        wire = blob[_HEAD.size:]
        length = int.from_bytes(wire[:4], "big")
        if length and not flags & (_RELATIVE | _ABSOLUTE):
            return None  # values without a TTL: damaged, not made by make_image
        return cls(wire, length, withheld, relative if flags & _RELATIVE else None,
                   absolute if flags & _ABSOLUTE else None)

    def expiry(self, now: float, negative_ttl: float) -> float:
        """When an answer of these values fetched at ``now`` stops being fresh (as
        :func:`resolver.core.cache.expiry` computes it from the values)."""
        if not self.length:
            return now + negative_ttl
        if self.min_absolute is None:
            assert self.min_relative is not None
            return now + self.min_relative
        if self.min_relative is None:
            return float(self.min_absolute)
        return min(float(self.min_absolute), now + self.min_relative)

    def decode(self) -> tuple[HandleValue, ...]:
        """The values, decoded from :attr:`wire` (each call decodes anew)."""
        return decode_values(self.wire)

    def values(self) -> tuple[HandleValue, ...]:
        """The values, decoded on the first call."""
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = self.decode()
        return decoded

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:
        return self.length > 0

    @overload
    def __getitem__(self, index: int) -> HandleValue: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[HandleValue, ...]: ...

    def __getitem__(self, index: int | slice) -> HandleValue | tuple[HandleValue, ...]:
        return self.values()[index]

    def __iter__(self) -> Iterator[HandleValue]:
        return iter(self.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordImage):
            return self.wire == other.wire
        if isinstance(other, tuple):
            return self.values() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return f"RecordImage({self.length} values, {len(self.wire)} octets)"


def wire_of(values: Sequence[Any]) -> bytes | None:
    """The counted value list of ``values`` when they are an image, else None."""
    return values.wire if isinstance(values, RecordImage) else None
