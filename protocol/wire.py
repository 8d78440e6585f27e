"""Bounded primitive reader and writer for Handle protocol byte layouts.

Integers are big-endian (``Encoder.readInt``/``writeInt``); byte arrays and
strings are a 4-octet length followed by the bytes (``Encoder.readByteArray``).
Every length is checked against what is left of the buffer *before* anything is
allocated, and every failure raises :class:`~protocol.errors.ProtocolError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from protocol.constants import MAX_ARRAY_SIZE
from protocol.errors import ProtocolError

_U8 = struct.Struct(">B")
_I16 = struct.Struct(">h")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")


class Reader:
    """Reads primitives from ``data[offset:end]``; never reads past ``end``."""

    __slots__ = ("_data", "end", "pos")

    def __init__(self, data: bytes, offset: int = 0, end: int | None = None) -> None:
        self._data = data
        self.pos = offset
        self.end = len(data) if end is None else min(end, len(data))

    @property
    def data(self) -> bytes:
        """The underlying buffer."""
        return self._data

    def remaining(self) -> int:
        """Number of bytes left before ``end``."""
        return self.end - self.pos

    def advance(self, n: int) -> int:
        """Skip ``n`` bytes (checked) and return the offset where they start."""
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise ProtocolError(f"truncated: need {n} bytes at {pos}, have {self.end - pos}")
        self.pos = pos + n
        return pos

    def u8(self) -> int:
        """One unsigned octet."""
        return self._data[self.advance(1)]

    def i8(self) -> int:
        """One signed octet (Java ``byte``)."""
        v = self._data[self.advance(1)]
        return v - 256 if v > 127 else v

    def i16(self) -> int:
        """Two-octet signed integer (``Encoder.readInt2``)."""
        return int(_I16.unpack_from(self._data, self.advance(2))[0])

    def u16(self) -> int:
        """Two-octet unsigned integer."""
        return int(_U16.unpack_from(self._data, self.advance(2))[0])

    def i32(self) -> int:
        """Four-octet signed integer (``Encoder.readInt``)."""
        return int(_I32.unpack_from(self._data, self.advance(4))[0])

    def u32(self) -> int:
        """Four-octet unsigned integer."""
        return int(_U32.unpack_from(self._data, self.advance(4))[0])

    def i64(self) -> int:
        """Eight-octet signed integer (``Encoder.readLong``)."""
        return int(_I64.unpack_from(self._data, self.advance(8))[0])

    def raw(self, n: int) -> bytes:
        """Exactly ``n`` bytes."""
        start = self.advance(n)
        return self._data[start : start + n]

    def rest(self) -> bytes:
        """Everything up to ``end``."""
        start = self.pos
        self.pos = self.end
        return self._data[start : self.end]

    def count(self, min_item_size: int, limit: int = MAX_ARRAY_SIZE) -> int:
        """A four-octet element count, checked against ``limit`` and the bytes left.

        ``min_item_size`` is the smallest encoding of one element, so a count that
        could not possibly fit in the remaining bytes is rejected up front.
        """
        n = self.i32()
        if n < 0 or n > limit:
            raise ProtocolError(f"invalid array size {n}")
        if n * min_item_size > self.end - self.pos:
            raise ProtocolError(f"array of {n} items does not fit in {self.end - self.pos} bytes")
        return n

    def byte_array(self, limit: int = MAX_ARRAY_SIZE) -> bytes:
        """A length-prefixed byte array (``Encoder.readByteArray``)."""
        n = self.i32()
        if n < 0 or n > limit:
            raise ProtocolError(f"invalid array size {n}")
        return self.raw(n)

    def string(self, limit: int = MAX_ARRAY_SIZE) -> str:
        """A length-prefixed UTF-8 string."""
        return decode_utf8(self.byte_array(limit))

    def int_list(self) -> tuple[int, ...]:
        """A counted list of four-octet signed integers (``Encoder.readIntArray``)."""
        n = self.count(4)
        start = self.advance(4 * n)
        return struct.unpack_from(f">{n}i", self._data, start)

    def byte_array_list(self) -> tuple[bytes, ...]:
        """A counted list of length-prefixed byte arrays."""
        n = self.count(4)
        return tuple(self.byte_array() for _ in range(n))

    def string_list(self) -> tuple[str, ...]:
        """A counted list of length-prefixed UTF-8 strings."""
        n = self.count(4)
        return tuple(self.string() for _ in range(n))

    def expect_end(self, what: str) -> None:
        """Fail if any byte is left (``Unexpected data remaining after decoding``)."""
        if self.pos != self.end:
            raise ProtocolError(f"unexpected {self.end - self.pos} bytes after {what}")


def decode_utf8(raw: bytes) -> str:
    """UTF-8 text, or ProtocolError."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"invalid UTF-8: {exc.reason}") from None


def _check(value: int, lo: int, hi: int, what: str) -> int:
    if not isinstance(value, int) or value < lo or value > hi:
        raise ProtocolError(f"{what} out of range: {value!r}")
    return value


class Writer:
    """Appends primitives to a growing buffer; ``getvalue()`` returns the bytes.

    Integer writers accept both the signed and the unsigned range of their width
    (Java writes the low bits of an ``int``), anything else raises ProtocolError.
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def getvalue(self) -> bytes:
        """The bytes written so far."""
        return bytes(self._buf)

    def u8(self, value: int) -> Writer:
        """One octet (signed or unsigned range)."""
        self._buf.append(_check(value, -0x80, 0xFF, "int1") & 0xFF)
        return self

    def i16(self, value: int) -> Writer:
        """Two octets (``Encoder.writeInt2``)."""
        self._buf += _U16.pack(_check(value, -0x8000, 0xFFFF, "int2") & 0xFFFF)
        return self

    def i32(self, value: int) -> Writer:
        """Four octets (``Encoder.writeInt``)."""
        self._buf += _U32.pack(_check(value, -0x80000000, 0xFFFFFFFF, "int4") & 0xFFFFFFFF)
        return self

    def i64(self, value: int) -> Writer:
        """Eight octets (``Encoder.writeLong``)."""
        v = _check(value, -(1 << 63), (1 << 64) - 1, "int8")
        self._buf += (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        return self

    def raw(self, data: bytes) -> Writer:
        """Bytes without a length."""
        self._buf += data
        return self

    def byte_array(self, data: bytes | None) -> Writer:
        """Length-prefixed bytes (``None`` is written as length 0, like Java)."""
        if data is None:
            data = b""
        if len(data) > 0x7FFFFFFF:
            raise ProtocolError("byte array too long")
        self._buf += _U32.pack(len(data))
        self._buf += data
        return self

    def string(self, text: str) -> Writer:
        """Length-prefixed UTF-8."""
        return self.byte_array(encode_utf8(text))

    def int_list(self, values: Iterable[int]) -> Writer:
        """Counted list of four-octet integers (``Encoder.writeIntArray``)."""
        items = list(values)
        self.i32(len(items))
        for v in items:
            self.i32(v)
        return self

    def byte_array_list(self, values: Iterable[bytes]) -> Writer:
        """Counted list of length-prefixed byte arrays (``Encoder.writeByteArrayArray``)."""
        items = list(values)
        self.i32(len(items))
        for v in items:
            self.byte_array(v)
        return self

    def string_list(self, values: Iterable[str]) -> Writer:
        """Counted list of length-prefixed UTF-8 strings."""
        return self.byte_array_list([encode_utf8(v) for v in values])


def encode_utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text`` (lone surrogates raise ProtocolError)."""
    if not isinstance(text, str):
        raise ProtocolError(f"expected text, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(f"text is not encodable as UTF-8: {exc.reason}") from None
