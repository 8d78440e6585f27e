"""Mapping handle values to ``handle_values`` rows and back; value checks; record digests."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Row

from protocol import record_image
from protocol.constants import MAX_ARRAY_SIZE
from protocol.errors import ProtocolError
from protocol.values import (
    TTL_TYPE_ABSOLUTE,
    TTL_TYPE_RELATIVE,
    HandleValue,
    ValueReference,
    make_value,
)
from registry.errors import InvalidValue, ValueAlreadyExists
from registry.names import unstorable

MAX_INDEX = 2**31 - 1
MAX_TYPE_LENGTH = 255

VALUE_COLUMNS = (
    "idx",
    "type",
    "data",
    "ttl_type",
    "ttl",
    "timestamp",
    "admin_read",
    "admin_write",
    "public_read",
    "public_write",
    "references",
)


def check_values(values: Iterable[HandleValue]) -> dict[int, HandleValue]:
    """The values keyed by index; raises on a repeated, non-positive or bad value."""
    by_index: dict[int, HandleValue] = {}
    for value in values:
        if not 0 < value.index <= MAX_INDEX:
            raise InvalidValue(f"index must be positive: {value.index}")
        if value.type not in _GOOD_TYPES:
            _check_type(value)
        for ref in value.references:  # most values have none
            if (problem := unstorable(ref.handle)) is not None:
                raise InvalidValue(f"value {value.index}: {ref.handle!r} {problem}")
        if value.ttl_type not in (TTL_TYPE_RELATIVE, TTL_TYPE_ABSOLUTE):
            raise InvalidValue(f"unknown ttl_type {value.ttl_type}")
        if value.index in by_index:
            raise ValueAlreadyExists(f"index {value.index} given twice")
        by_index[value.index] = value
    return by_index


#: value types that passed :func:`_check_type` (bounded: cleared when full)
_GOOD_TYPES: set[str] = set()


def _check_type(value: HandleValue) -> None:
    """Raise unless ``value``'s type may be stored; remember the types that may."""
    if not value.type or len(value.type) > MAX_TYPE_LENGTH:
        raise InvalidValue(f"type must be 1 to {MAX_TYPE_LENGTH} characters: {value.type!r}")
    if (problem := unstorable(value.type)) is not None:
        raise InvalidValue(f"value {value.index}: {value.type!r} {problem}")
    if len(_GOOD_TYPES) >= 4096:
        _GOOD_TYPES.clear()
    _GOOD_TYPES.add(value.type)


def value_row(handle_id: int, key: str, value: HandleValue) -> dict[str, Any]:
    """The ``handle_values`` row (as insert parameters) of ``value`` of the handle
    ``handle_id`` whose name key is ``key``."""
    return {
        "handle_id": handle_id,
        "name_key": key,
        "idx": value.index,
        "type": value.type,
        "data": value.data,
        "ttl_type": value.ttl_type,
        "ttl": value.ttl,
        "timestamp": value.timestamp,
        "admin_read": value.admin_read,
        "admin_write": value.admin_write,
        "public_read": value.public_read,
        "public_write": value.public_write,
        "references": [[ref.handle, ref.index] for ref in value.references],
    }


def row_value(row: Row[Any] | Sequence[Any], offset: int = 0) -> HandleValue:
    """The value held in ``row[offset:]``, laid out in :data:`VALUE_COLUMNS` order.

    Also reads raw SQLite driver rows (booleans as 0/1, references as JSON text).
    """
    idx, type_, data, ttl_type, ttl, timestamp, ar, aw, pr, pw, refs = row[offset : offset + 11]
    if isinstance(refs, str):  # raw SQLite rows; most values have no references
        refs = None if refs == "[]" else json.loads(refs)
    # make_value: a resolution that misses the caches builds one per value (keywords
    # cost twice as much, the dataclass's __init__ three times)
    return make_value(
        idx, type_, data if type(data) is bytes else bytes(data), ttl_type, ttl, timestamp,
        bool(ar), bool(aw), bool(pr), bool(pw),
        tuple(ValueReference(h, i) for h, i in refs) if refs else (),
    )


def record_digest(values: Iterable[HandleValue], stamp: int = 0) -> str:
    """SHA-256 (hex) of a record's values in index order: the audit before/after.

    Every field is length-prefixed, so no two different records share an input.
    ``stamp`` stands for the timestamp of values whose own is 0 (a bulk write stores
    them with its time without making new values first).
    """
    return _add_rows(_drop, "", sorted(values, key=_index), stamp, BOOL_TRUTH, None)


def _drop(_row: tuple[Any, ...]) -> None:
    """The rows :func:`record_digest` does not keep."""


_LENGTH = struct.Struct(">I").pack
_NO_REFERENCES = _LENGTH(0)
#: by the inputs of a value's head (index, type, ttl_type, ttl, timestamp, the four
#: permissions): its length-prefixed head and type fields of :func:`record_digest`, and
#: its fixed fields and type field in a record image (:func:`record_image.value_head`;
#: None when the wire cannot carry them).  The values of a bulk write repeat a few of
#: them (bounded: cleared when full)
_HEADS: dict[tuple[Any, ...], tuple[bytes, bytes | None]] = {}
_PARTS_KEPT = 4096


def _field(part: bytes) -> bytes:
    return _LENGTH(len(part)) + part


def _head_parts(head: tuple[Any, ...]) -> tuple[bytes, bytes | None]:
    index, type_, ttl_type, ttl, timestamp, admin_read, admin_write, public_read, public_write \
        = head
    permissions = HandleValue(index, "", b"", admin_read=admin_read, admin_write=admin_write,
                              public_read=public_read, public_write=public_write).permissions
    part = (_field(f"{index} {ttl_type} {ttl} {timestamp} {permissions}".encode())
            + _field(type_.encode()))
    try:
        image_part: bytes | None = record_image.value_head(
            (index, timestamp, ttl_type, ttl, admin_read, admin_write, public_read,
             public_write, type_))
    except (struct.error, ProtocolError):
        image_part = None
    if len(_HEADS) >= _PARTS_KEPT:
        _HEADS.clear()
    _HEADS[head] = parts = (part, image_part)
    return parts


def _references_text(value: HandleValue) -> bytes:
    return "\0".join(f"{r.index}:{r.handle}" for r in value.references).encode()


def _index(value: HandleValue) -> int:
    return value.index


#: the ``handle_values`` columns in the order of :func:`value_records`' tuples
VALUE_ROW_COLUMNS = ("handle_id", "name_key", *VALUE_COLUMNS)


def references_text(value: HandleValue) -> str:
    """The ``references`` column of ``value`` as JSON text (what the JSON type writes)."""
    if not value.references:
        return "[]"
    return json.dumps([[ref.handle, ref.index] for ref in value.references])


#: how :func:`stored_rows` gives the permission flags: as booleans (what asyncpg's COPY
#: wants) or, for SQLite, as the integers it stores them as (:data:`SQLITE_TRUTH`):
#: sqlite3 binds an exact int at once but looks up an adapter for every bool, which
#: made the value insert of a bulk import nearly twice as slow
BOOL_TRUTH: tuple[Any, Any] = (False, True)
SQLITE_TRUTH: tuple[Any, Any] = (0, 1)
#: how :func:`stored_rows` gives the data for SQLite: as a ``bytearray`` (the same BLOB).
#: sqlite3 binds an exact str, int or bytearray at once but looks up an adapter for
#: every other parameter, ``bytes`` too (~0.3 us a value on the SQLite thread, under
#: the GIL; the copy costs ~0.1 us): 1.5 million values of a 1M-row CSV import
SQLITE_BLOB = bytearray


def stored_rows(handle_id: int, key: str, values: Sequence[HandleValue], stamp: int,
                truth: tuple[Any, Any] = BOOL_TRUTH, blob: type[bytearray] | None = None
                ) -> tuple[list[tuple[Any, ...]], str]:
    """The ``handle_values`` rows of a record whose ``values`` come in index order, as
    driver-ready tuples in :data:`VALUE_ROW_COLUMNS` order (permission flags as
    ``truth`` gives them, the data as bytes or, with ``blob`` (:data:`SQLITE_BLOB`),
    converted by it, references as JSON text; a zero timestamp replaced by ``stamp``),
    and its
    :func:`record_digest` with that ``stamp``: what a bulk write stores and digests for
    each record, in one pass over the fields (not one for the rows and one, after
    sorting the values again, for the digest)."""
    tails: list[tuple[Any, ...]] = []
    digest = _add_rows(tails.append, key, values, stamp, truth, blob)
    return [(handle_id, *tail) for tail in tails], digest


class RecordRows(NamedTuple):
    """What a bulk write stores of one record but its handle id: its ``handle_values``
    rows without their first column (``(handle id, *tail)`` is the row), its image
    (None when the wire cannot carry its values) and its :func:`record_digest`."""

    tails: list[tuple[Any, ...]]
    image: bytes | None
    digest: str


def record_rows(key: str, values: Collection[HandleValue], stamp: int,
                truth: tuple[Any, Any] = BOOL_TRUTH, blob: type[bytearray] | None = None
                ) -> RecordRows:
    """:func:`stored_rows` of a record (values in index order) with no handle id yet, and
    its image (:func:`protocol.record_image.make_image` of its values and ``stamp``), made
    in the same pass over the values: a bulk write lays its records out before its
    transaction gives the new handles their ids (:mod:`registry.bulk_prepare`)."""
    tails: list[tuple[Any, ...]] = []
    images: list[bytes | None] = []
    digest = _add_rows(tails.append, key, values, stamp, truth, blob, images.append)
    return RecordRows(tails, images[0], digest)


def _add_rows(add_row: Callable[[tuple[Any, ...]], None], key: str,
              values: Collection[HandleValue], stamp: int, truth: tuple[Any, Any],
              blob: type[bytearray] | None,
              add_image: Callable[[bytes | None], None] | None = None) -> str:
    """Hand :func:`stored_rows`' rows but their handle id to ``add_row`` (and, given
    ``add_image``, the record's image to it); the record's digest."""
    parts: list[bytes] = []
    add_parts = parts.extend
    # the image's parts (as make_image lays them out) while the wire can carry them all
    image: list[bytes] | None = None if add_image is None else [b""]
    heads, length, no_refs = _HEADS, _LENGTH, record_image.NO_REFERENCES
    for v in values:
        index = v.index
        type_ = v.type
        ttl_type = v.ttl_type
        ttl = v.ttl
        data = v.data
        refs = v.references
        ar = v.admin_read
        aw = v.admin_write
        pr = v.public_read
        pw = v.public_write
        timestamp = v.timestamp or stamp
        add_row((key, index, type_, blob(data) if blob else data, ttl_type, ttl,
                 timestamp, truth[ar], truth[aw], truth[pr], truth[pw],
                 "[]" if not refs else references_text(v)))
        head = (index, type_, ttl_type, ttl, timestamp, ar, aw, pr, pw)
        digest_head, image_head = heads.get(head) or _head_parts(head)
        size = length(len(data))
        add_parts((digest_head, size, data,
                   _NO_REFERENCES if not refs else _field(_references_text(v))))
        if image is None:
            continue
        if image_head is None or len(data) > MAX_ARRAY_SIZE:
            image = None  # the wire cannot carry this value: the record gets no image
        elif refs:
            image = _add_referring(image, v, image_head, size)
        else:
            image += (image_head, size, data if type(data) is bytes else bytes(data), no_refs)
    if add_image is not None:
        add_image(None if image is None
                  else record_image.image_of(image, record_image.values_summary(values)))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _add_referring(image: list[bytes], value: HandleValue, head: bytes, size: bytes
                   ) -> list[bytes] | None:
    """``image`` with the four parts of ``value``, which has references (``head``: its fixed
    fields and type field, ``size``: its data's length field), or None when the wire
    cannot carry them."""
    try:
        references = record_image.references_field(value)
    except (struct.error, ProtocolError):
        return None
    data = value.data
    image += (head, size, data if type(data) is bytes else bytes(data), references)
    return image
