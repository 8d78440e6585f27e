"""The change feed: which handles and prefixes changed, in commit order, for caches to follow.

Every write of handles or prefixes calls :func:`record` in its own
transaction, so a change is in the feed exactly when it is committed.  A
serving process remembers the last ``seq`` it saw and asks for the rows after
it (:meth:`ChangesMixin.changes_since`, one indexed query) a few times a
second (:mod:`resolver.core.change_feed`): a CLI command, an import or another
process's write then reaches every cache on the machine (or on every host of
one PostgreSQL registry) without Redis.

Order: :func:`record` takes the audit chain's lock
(:func:`registry.db.transaction_lock`; every write already holds it for its
audit row, SQLite holds its write lock anyway) before it draws sequence
numbers, so ``seq`` grows in commit order and a reader following
``seq > last`` never skips a row committed late.  A number is never handed out
twice even after the rows are pruned: the prune keeps the newest row, so SQLite's
next number (the largest plus one; no AUTOINCREMENT, whose counter was one more page
to write a create) never goes back.

Rows older than :data:`RETENTION_SECONDS` are pruned by the writers (a range delete
by ``seq`` in a writing transaction, at most every :data:`PRUNE_SECONDS` in a process,
not one more statement per create): every row before the first one of the last
:data:`RETENTION_SECONDS`, found walking the rows in ``seq`` order (the rows it walks
past are the ones it deletes), so ``time`` needs no index (one more page a create).
A row is never pruned early; one stamped earlier than a row before it (another
process's clock) may stay a little longer.  A
reader that could not read the feed for longer than that may have missed rows
and must forget its whole cache (:meth:`resolver.core.change_feed.ChangeFollower.poll`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import sqlite_driver
from registry.base import StoreBase
from registry.db import transaction_lock
from registry.models import Change, table_of, utcnow

RETENTION_SECONDS = 900.0
"""How long a change stays in the feed."""
PRUNE_SECONDS = 10.0
"""How often a process prunes the feed (rows stay at most this much past retention)."""
HANDLE = "handle"
PREFIX = "prefix"

_C = table_of(Change)
_LAST = select(func.max(_C.c.seq))
_INSERT_SQLITE = "INSERT INTO changes (handle, kind, time) VALUES (?, ?, ?)"
_SINCE_SQLITE = "SELECT seq, handle, kind FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"
_SINCE_PG = "SELECT seq, handle, kind FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2"
_pruned = -PRUNE_SECONDS  # monotonic time of this process's last prune


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One feed entry: ``handle`` changed (``kind`` prefix: the prefix handle of a prefix)."""

    seq: int
    handle: str
    kind: str


async def record(conn: AsyncConnection, handles: Sequence[str], kind: str = HANDLE) -> None:
    """Add ``handles`` to the feed inside the caller's (writing) transaction."""
    if not handles:
        return
    global _pruned
    await transaction_lock(conn, "audit")
    now = utcnow()
    if conn.dialect.name == "sqlite":
        # a bulk write's thousands of rows: one executemany; SQLite holds the write lock
        # already, so it goes with the transaction's next statement or its commit
        stamp = sqlite_driver.bind_value(conn, _C, "time", now)
        (await sqlite_driver.adapted(conn)).defer(
            _insert_here, _INSERT_SQLITE, [(h, kind, stamp) for h in handles])
    else:
        await conn.execute(insert(_C),
                           [{"handle": h, "kind": kind, "time": now} for h in handles])
    if time.monotonic() - _pruned >= PRUNE_SECONDS:
        # after the rows above (SQLite: the deferred insert runs first): the newest stays
        _pruned = time.monotonic()
        await conn.execute(_prune(now - timedelta(seconds=RETENTION_SECONDS)))


def _prune(cutoff: datetime) -> Delete:
    """Delete the rows before the first one stamped ``cutoff`` or later (all but the
    newest when there is none)."""
    first_recent = (select(_C.c.seq).where(_C.c.time >= cutoff).order_by(_C.c.seq)
                    .limit(1).scalar_subquery())
    newest = select(func.max(_C.c.seq)).scalar_subquery()
    return delete(_C).where(_C.c.seq < func.coalesce(first_recent, newest))


def _insert_here(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """On the SQLite thread, in the writing transaction: add ``rows``."""
    db.executemany(sql, rows)


class ChangesMixin(StoreBase):
    """Reading the change feed."""

    async def last_change(self) -> int:
        """The newest ``seq`` in the feed (0 when it is empty)."""
        async with self._read() as conn:
            return int((await conn.execute(_LAST)).scalar() or 0)

    async def changes_since(self, seq: int, *, limit: int = 5000) -> list[ChangeRow]:
        """Up to ``limit`` feed entries after ``seq``, oldest first.  Outside a
        transaction as a resolution's point read (:meth:`_point_read_sqlite`: on SQLite
        here when it need not wait; :meth:`_point_read_pg`: a prepared statement on
        asyncpg), no pool checkout nor SQLAlchemy statement: every serving process asks
        four times a second, ~300 µs of CPU each through SQLAlchemy."""
        if self._open_tx.get() is None:
            if self.dialect == "sqlite":
                rows = await self._point_read_sqlite(_SINCE_SQLITE, (seq, limit))
            else:
                rows = await self._point_read_pg(_SINCE_PG, (seq, limit))
            return [ChangeRow(*row) for row in rows]
        query = (
            select(_C.c.seq, _C.c.handle, _C.c.kind)
            .where(_C.c.seq > seq)
            .order_by(_C.c.seq)
            .limit(limit)
        )
        async with self._read() as conn:
            return [ChangeRow(*row) for row in await conn.execute(query)]
