"""Byte encoding of handle values (``Encoder.encodeHandleValue``/``decodeHandleValue``).

One value is::

    index:int4 timestamp:int4 ttl_type:int1 ttl:int4 permissions:int1
    type:bytes data:bytes references:int4 (handle:bytes index:int4)*

A value list (as in a resolution response or a create request) is a four-octet
count followed by the values.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from protocol.constants import MAX_ARRAY_SIZE, MAX_HANDLE_VALUES
from protocol.errors import ProtocolError
from protocol.values import HandleValue, ValueReference, make_value
from protocol.wire import Reader, decode_utf8, encode_utf8

_FIXED = struct.Struct(">iiBiB")  # index, timestamp, ttl type, ttl, permissions
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_NO_REFERENCES = b"\0\0\0\0"  # a reference count of zero
#: smallest encoding of one value: fixed part + empty type + empty data + zero references
MIN_VALUE_SIZE = _FIXED.size + 12


def _int32(value: int, what: str) -> int:
    if not -0x80000000 <= value <= 0xFFFFFFFF:
        raise ProtocolError(f"{what} out of range: {value}")
    return value if value < 0x80000000 else value - 0x100000000


def encode_value(value: HandleValue) -> bytes:
    """The bytes of one handle value."""
    out = bytearray()
    _append_value(out, value)
    return bytes(out)


_TYPE_PREFIXED: dict[str, bytes] = {}


def type_field(name: str) -> bytes:
    """Length-prefixed UTF-8 of a type name, cached (few distinct types exist)."""
    field = _TYPE_PREFIXED.get(name)
    if field is None:
        raw = encode_utf8(name)
        field = _U32.pack(len(raw)) + raw
        if len(_TYPE_PREFIXED) < 4096:
            _TYPE_PREFIXED[name] = field
    return field


def _append_value(out: bytearray, value: HandleValue) -> None:
    data = value.data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError("value data must be bytes")
    try:
        out += _FIXED.pack(
            value.index, value.timestamp, value.ttl_type, value.ttl, value.permissions
        )
    except struct.error:
        if not 0 <= value.ttl_type <= 0xFF:
            raise ProtocolError(f"ttl type out of range: {value.ttl_type}") from None
        out += _FIXED.pack(
            _int32(value.index, "index"),
            _int32(value.timestamp, "timestamp"),
            value.ttl_type,
            _int32(value.ttl, "ttl"),
            value.permissions,
        )
    out += type_field(value.type)
    out += _U32.pack(len(data))
    out += data
    refs = value.references
    if not refs:
        out += _NO_REFERENCES
        return
    out += _U32.pack(len(refs))
    for ref in refs:
        hb = encode_utf8(ref.handle)
        out += _U32.pack(len(hb))
        out += hb
        out += _I32.pack(_int32(ref.index, "reference index"))


def encode_values(values: Sequence[HandleValue]) -> bytes:
    """A counted list of values (count, then each value).

    A value of the usual shape (``bytes`` data, no references, fields in range) is
    five pieces joined once at the end, not appended to a buffer one by one: a
    resolution that misses the caches encodes every value it answers with (about
    40% less time for a product record's 15 values); any other value is encoded by
    :func:`_append_value`, and every value's bytes are what :func:`encode_value`
    gives (test)."""
    out = [_U32.pack(len(values))]
    add = out.append
    fixed = _FIXED.pack
    length = _U32.pack
    for v in values:
        data = v.data
        if type(data) is bytes and not v.references:
            try:
                head = fixed(v.index, v.timestamp, v.ttl_type, v.ttl, v.permissions)
            except struct.error:  # out of the signed ranges: _append_value says how
                pass
            else:
                add(head)
                add(type_field(v.type))
                add(length(len(data)))
                add(data)
                add(_NO_REFERENCES)
                continue
        one = bytearray()
        _append_value(one, v)
        add(bytes(one))
    return b"".join(out)


_HEAD = struct.Struct(">iiBiBi")  # fixed part + type length
_PERMS = tuple(
    (bool(bits & 8), bool(bits & 4), bool(bits & 2), bool(bits & 1)) for bits in range(256)
)
_TYPE_NAMES: dict[bytes, str] = {}


def _short(what: str) -> ProtocolError:
    return ProtocolError(f"truncated or invalid {what} in handle value")


def read_value(r: Reader) -> HandleValue:
    """Decode one value at the reader's position (inlined bounds checks: hot path)."""
    data = r.data
    pos = r.pos
    end = r.end
    if pos + 18 > end:
        raise _short("header")
    index, timestamp, ttl_type, ttl, perms, tlen = _HEAD.unpack_from(data, pos)
    pos += 18
    if tlen < 0 or tlen > MAX_ARRAY_SIZE or pos + tlen + 4 > end:
        raise _short("type")
    raw_type = data[pos : pos + tlen]
    pos += tlen
    type_name = _TYPE_NAMES.get(raw_type)
    if type_name is None:
        type_name = decode_utf8(raw_type)
        if len(_TYPE_NAMES) < 4096:
            _TYPE_NAMES[raw_type] = type_name
    (dlen,) = _I32.unpack_from(data, pos)
    pos += 4
    if dlen < 0 or dlen > MAX_ARRAY_SIZE or pos + dlen + 4 > end:
        raise _short("data")
    payload = data[pos : pos + dlen]
    pos += dlen
    (nrefs,) = _I32.unpack_from(data, pos)
    pos += 4
    refs: tuple[ValueReference, ...] = ()
    if nrefs:
        if nrefs < 0 or nrefs * 8 > end - pos:
            raise _short("reference count")
        r.pos = pos
        refs = tuple(ValueReference(r.string(), r.i32()) for _ in range(nrefs))
        pos = r.pos
    r.pos = pos
    ar, aw, pr, pw = _PERMS[perms]
    return make_value(index, type_name, payload, ttl_type, ttl, timestamp, ar, aw, pr, pw, refs)


def read_values(r: Reader, limit: int = MAX_HANDLE_VALUES) -> tuple[HandleValue, ...]:
    """Decode a counted value list at the reader's position."""
    n = r.count(MIN_VALUE_SIZE, limit)
    return tuple(read_value(r) for _ in range(n))


def decode_value(data: bytes) -> HandleValue:
    """Decode exactly one value; trailing bytes are an error."""
    r = Reader(data)
    value = read_value(r)
    r.expect_end("handle value")
    return value


def decode_values(data: bytes, limit: int = MAX_HANDLE_VALUES) -> tuple[HandleValue, ...]:
    """Decode exactly one counted value list; trailing bytes are an error."""
    r = Reader(data)
    values = read_values(r, limit)
    r.expect_end("value list")
    return values


