"""The append-only audit log: a SHA-256 hash chain over every registry write.

Row ``n`` stores ``prev_hash`` (row ``n-1``'s ``row_hash``, 64 zeros for the
first row) and ``row_hash`` = SHA-256 of its own fields with ``prev_hash``.
Appends take the chain lock (:func:`registry.db.transaction_lock`) in the
writing transaction, so concurrent writers extend the chain one after the
other (SQLite: the database write lock; the append runs on the SQLite
thread with the transaction's next statement or its commit).  An edited,
deleted or reordered row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.base import StoreBase
from registry.db import transaction_lock
from registry.models import AuditLog, table_of, utcnow
from registry.records import AuditEntry, AuditReport
from registry.sqlite_driver import PreparedInsert, adapted, prepared_insert

GENESIS_HASH = "0" * 64
_T = table_of(AuditLog)
_HEAD = select(_T.c.seq, _T.c.row_hash).order_by(_T.c.seq.desc()).limit(1)
_HEAD_SQLITE = "SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
_COLUMNS = ("seq", "time", "actor", "action", "handle", "before", "after", "detail",
            "prev_hash", "row_hash")
_ENTRY_COLUMNS = (_T.c.seq, _T.c.time, _T.c.actor, _T.c.action, _T.c.handle, _T.c.before,
                  _T.c.after, _T.c.detail)
_VERIFY_BATCH = 5000


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What a write wants logged; the chain fields are added on append."""

    actor: str
    action: str
    handle: str | None
    before: str | None = None
    after: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def row_hash(
    seq: int,
    time: datetime,
    event: AuditEvent | AuditEntry,
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) that chains one row to ``prev_hash``."""
    canonical = [
        seq,
        time.isoformat(timespec="microseconds"),
        event.actor,
        event.action,
        event.handle,
        event.before,
        event.after,
        event.detail,
        prev_hash,
    ]
    encoded = json.dumps(canonical, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


async def append_audit(conn: AsyncConnection, events: Sequence[AuditEvent]) -> None:
    """Append ``events`` to the chain inside the caller's transaction (on SQLite, which
    holds the write lock, with the transaction's next statement or its commit)."""
    if not events:
        return
    time = utcnow()
    if conn.dialect.name == "sqlite":
        prepared = prepared_insert(conn.dialect, _T, _COLUMNS)
        (await adapted(conn)).defer(_append_here, prepared, events, time)
        return
    await transaction_lock(conn, "audit")
    head = (await conn.execute(_HEAD)).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    await conn.execute(insert(_T), _rows(seq, prev, time, events))


def _append_here(db: sqlite3.Connection, prepared: PreparedInsert,
                 events: Sequence[AuditEvent], time: datetime) -> None:
    """On the SQLite thread, in a writing transaction: read the chain's head, append."""
    head = db.execute(_HEAD_SQLITE).fetchone()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    db.executemany(prepared.sql, [prepared.params(row)
                                  for row in _rows(seq, prev, time, events)])


def _rows(seq: int, prev: str, time: datetime,
          events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """The rows of ``events`` after the chain's head ``seq`` / ``prev``."""
    rows = []
    for event in events:
        seq += 1
        digest = row_hash(seq, time, event, prev)
        rows.append(
            {
                "seq": seq,
                "time": time,
                "actor": event.actor,
                "action": event.action,
                "handle": event.handle,
                "before": event.before,
                "after": event.after,
                "detail": event.detail,
                "prev_hash": prev,
                "row_hash": digest,
            }
        )
        prev = digest
    return rows


class AuditMixin(StoreBase):
    """Reading and verifying the audit log."""

    async def audit_entries(
        self,
        *,
        handle: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        newest: bool = False,
    ) -> list[AuditEntry]:
        """Entries in seq order: the first ``limit`` after ``after_seq``, or with
        ``newest`` the last ``limit`` ones; optionally of one handle (exact name)."""
        query = select(*_ENTRY_COLUMNS).where(_T.c.seq > after_seq).limit(limit)
        query = query.order_by(_T.c.seq.desc() if newest else _T.c.seq)
        if handle is not None:
            query = query.where(_T.c.handle == handle)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        entries = [AuditEntry(*row) for row in rows]
        return entries[::-1] if newest else entries

    async def verify_audit(self) -> AuditReport:
        """Walk the whole chain; report the first row whose seq, link or hash is wrong."""
        expected_seq, prev, checked = 1, GENESIS_HASH, 0
        query = select(*_ENTRY_COLUMNS, _T.c.prev_hash, _T.c.row_hash).order_by(_T.c.seq)
        async with self._read() as conn:
            while True:
                batch = query.where(_T.c.seq >= expected_seq).limit(_VERIFY_BATCH)
                rows = (await conn.execute(batch)).all()
                for row in rows:
                    entry = AuditEntry(*row[:8])
                    if entry.seq != expected_seq:
                        return AuditReport(checked, entry.seq, f"row {expected_seq} is missing")
                    if row.prev_hash != prev:
                        return AuditReport(checked, entry.seq, "prev_hash does not link")
                    if row_hash(entry.seq, entry.time, entry, prev) != row.row_hash:
                        return AuditReport(checked, entry.seq, "row_hash does not match")
                    prev, expected_seq, checked = row.row_hash, expected_seq + 1, checked + 1
                if len(rows) < _VERIFY_BATCH:
                    return AuditReport(checked)
