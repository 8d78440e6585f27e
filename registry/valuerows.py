"""Mapping handle values to ``handle_values`` rows and back; value checks; record digests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row

from protocol.values import TTL_TYPE_ABSOLUTE, TTL_TYPE_RELATIVE, HandleValue, ValueReference
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
        if not value.type or len(value.type) > MAX_TYPE_LENGTH:
            raise InvalidValue(f"type must be 1 to {MAX_TYPE_LENGTH} characters: {value.type!r}")
        for text in (value.type, *(ref.handle for ref in value.references)):
            if (problem := unstorable(text)) is not None:
                raise InvalidValue(f"value {value.index}: {text!r} {problem}")
        if value.ttl_type not in (TTL_TYPE_RELATIVE, TTL_TYPE_ABSOLUTE):
            raise InvalidValue(f"unknown ttl_type {value.ttl_type}")
        if value.index in by_index:
            raise ValueAlreadyExists(f"index {value.index} given twice")
        by_index[value.index] = value
    return by_index


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
    if isinstance(refs, str):
        refs = json.loads(refs)
    return HandleValue(
        index=idx,
        type=type_,
        data=bytes(data),
        ttl_type=ttl_type,
        ttl=ttl,
        timestamp=timestamp,
        admin_read=bool(ar),
        admin_write=bool(aw),
        public_read=bool(pr),
        public_write=bool(pw),
        references=tuple(ValueReference(h, i) for h, i in refs) if refs else (),
    )


def record_digest(values: Iterable[HandleValue]) -> str:
    """SHA-256 (hex) of a record's values in index order: the audit before/after.

    Every field is length-prefixed, so no two different records share an input.
    """
    digest = hashlib.sha256()
    for v in sorted(values, key=lambda v: v.index):
        refs = "\0".join(f"{r.index}:{r.handle}" for r in v.references).encode()
        head = f"{v.index} {v.ttl_type} {v.ttl} {v.timestamp} {v.permissions}".encode()
        type_ = v.type.encode()
        for part in (head, type_, v.data, refs):
            digest.update(len(part).to_bytes(4, "big"))
            digest.update(part)
    return digest.hexdigest()
