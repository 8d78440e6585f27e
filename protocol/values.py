"""Handle values: the typed, indexed entries of a handle record (RFC 3651 section 3.1).

This module holds the in-memory representation shared by every layer; the byte
encoding lives in :mod:`protocol.value_codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

TTL_TYPE_RELATIVE = 0
TTL_TYPE_ABSOLUTE = 1
DEFAULT_TTL = 86400

PERM_ADMIN_READ = 0x08
PERM_ADMIN_WRITE = 0x04
PERM_PUBLIC_READ = 0x02
PERM_PUBLIC_WRITE = 0x01


@dataclass(frozen=True, slots=True)
class ValueReference:
    """A reference from a value to another handle value (handle name and index)."""

    handle: str
    index: int


@dataclass(frozen=True, slots=True)
class HandleValue:
    """One handle value.  ``type`` is the value type name (``URL``, ``HS_ADMIN``...).

    ``timestamp`` is seconds since the epoch of the last change; ``ttl_type`` is
    :data:`TTL_TYPE_RELATIVE` (``ttl`` seconds) or :data:`TTL_TYPE_ABSOLUTE`
    (``ttl`` is an expiry time in epoch seconds).
    """

    index: int
    type: str
    data: bytes
    ttl_type: int = TTL_TYPE_RELATIVE
    ttl: int = DEFAULT_TTL
    timestamp: int = 0
    admin_read: bool = True
    admin_write: bool = True
    public_read: bool = True
    public_write: bool = False
    references: tuple[ValueReference, ...] = field(default=())

    @property
    def permissions(self) -> int:
        """The permission bits as the one byte the wire format carries."""
        return (
            (PERM_ADMIN_READ if self.admin_read else 0)
            | (PERM_ADMIN_WRITE if self.admin_write else 0)
            | (PERM_PUBLIC_READ if self.public_read else 0)
            | (PERM_PUBLIC_WRITE if self.public_write else 0)
        )

    @staticmethod
    def permission_flags(bits: int) -> dict[str, bool]:
        """Keyword arguments for the four permission fields from the wire byte."""
        return {
            "admin_read": bool(bits & PERM_ADMIN_READ),
            "admin_write": bool(bits & PERM_ADMIN_WRITE),
            "public_read": bool(bits & PERM_PUBLIC_READ),
            "public_write": bool(bits & PERM_PUBLIC_WRITE),
        }

    def data_text(self) -> str:
        """The data as text (UTF-8, undecodable bytes replaced) for display."""
        return self.data.decode("utf-8", "replace")


_FIELDS = ("index", "type", "data", "ttl_type", "ttl", "timestamp", "admin_read", "admin_write",
           "public_read", "public_write", "references")
if tuple(f.name for f in fields(HandleValue)) != _FIELDS:  # pragma: no cover
    raise TypeError("HandleValue's fields changed: update make_value")
_NEW = object.__new__


class _Draft:
    """:class:`HandleValue`'s slots, in its layout, without the frozen ``__setattr__``:
    :func:`make_value` fills one with plain attribute stores and then makes it a
    HandleValue (``__class__`` may change between classes of one layout)."""

    __slots__ = ("index", "type", "data", "ttl_type", "ttl", "timestamp", "admin_read",  # noqa: RUF023 (HandleValue's)
                 "admin_write", "public_read", "public_write", "references")
    index: int
    type: str
    data: bytes
    ttl_type: int
    ttl: int
    timestamp: int
    admin_read: bool
    admin_write: bool
    public_read: bool
    public_write: bool
    references: tuple[ValueReference, ...]


if HandleValue.__slots__ != _Draft.__slots__ or _Draft.__slots__ != _FIELDS:  # pragma: no cover
    raise TypeError("HandleValue's slots changed: update make_value")


def make_value(index: int, type: str, data: bytes, ttl_type: int, ttl: int,
               timestamp: int, admin_read: bool, admin_write: bool, public_read: bool,
               public_write: bool, references: tuple[ValueReference, ...]) -> HandleValue:
    """``HandleValue(...)`` with every field given, in field order, at under a quarter
    of the cost: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__`` (~1.1 us), setting each slot through its descriptor took
    ~0.6 us; this stores the fields in a :class:`_Draft` and turns it into the
    HandleValue (~0.26 us).  For the readers that make millions of values (bulk
    imports, database rows); the value is the same (equal, same hash, frozen)."""
    value = _NEW(_Draft)
    value.index = index
    value.type = type
    value.data = data
    value.ttl_type = ttl_type
    value.ttl = ttl
    value.timestamp = timestamp
    value.admin_read = admin_read
    value.admin_write = admin_write
    value.public_read = public_read
    value.public_write = public_write
    value.references = references
    value.__class__ = HandleValue  # type: ignore[assignment]
    return value  # type: ignore[return-value]


def with_timestamp(value: HandleValue, timestamp: int) -> HandleValue:
    """``dataclasses.replace(value, timestamp=timestamp)`` through :func:`make_value`:
    1.6 µs instead of 2.9 (``replace`` walks the fields and calls the frozen
    ``__init__``); a write stamps every value it changes, and compares every value it
    keeps with its old one this way."""
    return make_value(value.index, value.type, value.data, value.ttl_type, value.ttl,
                      timestamp, value.admin_read, value.admin_write, value.public_read,
                      value.public_write, value.references)
