"""The ``auth_state`` table: open authentication challenges and sessions, in bounded pools.

The resolver keeps its challenges and sessions (:mod:`resolver.core.auth_sessions`)
here when it runs as more than one process: every worker process of a node
opens the same registry, and with PostgreSQL so does every host, so an answer
to a challenge, or the next request of a session, may reach any of them.  A
record is opaque bytes under a hashed key, in a named pool with an expiry (a
wall-clock time); a pool holds at most its bound, the records expiring first
going first.  Each change of a record is one transaction holding its row
(PostgreSQL ``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``), so two processes
claiming one nonce or one challenge cannot both win.  On SQLite a change
(a Handle session's request counter, once per request) is that whole
transaction in one trip to the SQLite thread (:meth:`AuthStateMixin.auth_change`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import sqlite_driver
from registry.base import StoreBase
from registry.models import AuthRecord, table_of

R = TypeVar("R")
_A = table_of(AuthRecord)


@dataclass(frozen=True, slots=True)
class AuthSlot:
    """One record: its pool, when it expires (seconds since the epoch) and its data."""

    pool: str
    expires: float
    data: bytes


async def _bound(conn: AsyncConnection, pool: str, bound: int, now: float) -> None:
    """Drop the expired records of ``pool``, then those beyond its ``bound`` (the
    first to expire go first)."""
    await conn.execute(delete(_A).where(_A.c.pool == pool, _A.c.expires < now))
    count = (await conn.execute(select(func.count()).where(_A.c.pool == pool))).scalar_one()
    if count > bound:
        oldest = (select(_A.c.key).where(_A.c.pool == pool).order_by(_A.c.expires)
                  .limit(count - bound))
        await conn.execute(delete(_A).where(_A.c.key.in_(oldest.scalar_subquery())))


_SELECT_SQLITE = 'SELECT pool, expires, data FROM auth_state WHERE "key" = ?'
_GET_SQLITE = _SELECT_SQLITE + " AND expires >= ?"
_GET_PG = "SELECT pool, expires, data FROM auth_state WHERE key = $1 AND expires >= $2"
_UPDATE_SQLITE = 'UPDATE auth_state SET pool = ?, expires = ?, data = ? WHERE "key" = ?'
_UPDATE_DATA_SQLITE = 'UPDATE auth_state SET data = ? WHERE "key" = ?'
_DELETE_SQLITE = 'DELETE FROM auth_state WHERE "key" = ?'
EXPIRY_STEP = 1.0
"""A change made within a write (a Handle session's counter, every create) moves its
record's expiry only when that moves by this many seconds or more: a new expiry is a
new entry in the (pool, expires) index, one more page for every create to write (issue
17); the record then expires at most this much before an idle timeout counted exactly."""


def _same_expiry(live: AuthSlot, new: AuthSlot) -> bool:
    """Whether ``new`` may keep ``live``'s expiry (:data:`EXPIRY_STEP`)."""
    return 0.0 <= new.expires - live.expires < EXPIRY_STEP


def _change_here(db: sqlite3.Connection, key: str,
                 change: Callable[[AuthSlot], tuple[AuthSlot | None, R]], now: float
                 ) -> tuple[str, str | None, R] | None:
    """On the SQLite thread, one transaction: apply ``change`` to the live record under
    ``key``; its pool before and after (None: removed) and ``change``'s result, or None
    when there is no live record (see :meth:`AuthStateMixin.auth_change`)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(_SELECT_SQLITE, (key,)).fetchone()
        if row is None or row[1] < now:
            db.execute("ROLLBACK")
            return None
        new, result = change(AuthSlot(row[0], row[1], bytes(row[2])))
        if new is None:
            db.execute(_DELETE_SQLITE, (key,))
        else:
            db.execute(_UPDATE_SQLITE, (new.pool, new.expires, new.data, key))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return row[0], None if new is None else new.pool, result


def _change_within_here(db: sqlite3.Connection, key: str,
                        change: Callable[[AuthSlot | None], AuthSlot | None], now: float) -> None:
    """On the SQLite thread, in the transaction open there: apply ``change`` to the
    record under ``key`` (None when there is no live one; see
    :meth:`AuthStateMixin.auth_change_within`)."""
    row = db.execute(_SELECT_SQLITE, (key,)).fetchone()
    live = None if row is None or row[1] < now else AuthSlot(row[0], row[1], bytes(row[2]))
    new = change(live)
    if new is None:
        if row is not None:
            db.execute(_DELETE_SQLITE, (key,))
    elif live is not None and new is not live:  # the same record given back: no write
        if _same_expiry(live, new):  # the row only: no index entry changes
            db.execute(_UPDATE_DATA_SQLITE, (new.data, key))
        else:
            db.execute(_UPDATE_SQLITE, (live.pool, new.expires, new.data, key))


class AuthStateMixin(StoreBase):
    """Challenge and session records (see the module docstring)."""

    async def auth_get(self, key: str, now: float) -> AuthSlot | None:
        """The live record under ``key``, or None: outside a transaction a point read
        (SQLite on this thread when it need not wait, PostgreSQL on a held asyncpg
        connection with the statement prepared once), as the resolver reads a handle;
        a REST session is read so on every request of it."""
        if self._open_tx.get() is None:
            if self.dialect == "sqlite":
                rows = await self._point_read_sqlite(_GET_SQLITE, (key, now))
            else:
                rows = await self._point_read_pg(_GET_PG, (key, now))
            row = rows[0] if rows else None
        else:
            query = select(_A.c.pool, _A.c.expires, _A.c.data).where(
                _A.c.key == key, _A.c.expires >= now)
            async with self._read() as conn:
                row = (await conn.execute(query)).first()
        return None if row is None else AuthSlot(row[0], row[1], bytes(row[2]))

    async def auth_add(self, key: str, slot: AuthSlot, bound: int, now: float) -> bool:
        """Keep ``slot`` under ``key`` unless a live record is there (then False), then
        bound its pool."""
        try:
            async with self._write() as conn:
                await conn.execute(delete(_A).where(_A.c.key == key, _A.c.expires < now))
                await conn.execute(insert(_A), {"key": key, "pool": slot.pool,
                                                "expires": slot.expires, "data": slot.data})
                await _bound(conn, slot.pool, bound, now)
        except IntegrityError:
            return False
        return True

    async def auth_change(
        self, key: str, change: Callable[[AuthSlot], tuple[AuthSlot | None, R]],
        bounds: Mapping[str, int], default_bound: int, now: float,
    ) -> R | None:
        """Apply ``change`` to the live record under ``key`` in one transaction: it gives
        the new record (None removes it) and a result, returned here; None when there
        is no live record."""
        if self.dialect == "sqlite" and self._open_tx.get() is None:
            changed = await self._sqlite_call(_change_here, key, change, now)
            if changed is None:
                return None
            old_pool, new_pool, result = changed
            if new_pool is not None and new_pool != old_pool:
                async with self._write() as conn:
                    await _bound(conn, new_pool, max(1, bounds.get(new_pool, default_bound)), now)
            return result
        query = select(_A.c.pool, _A.c.expires, _A.c.data).where(_A.c.key == key).with_for_update()
        async with self._write() as conn:
            row = (await conn.execute(query)).first()
            if row is None or row.expires < now:
                return None
            new, result = change(AuthSlot(row.pool, row.expires, bytes(row.data)))
            if new is None:
                await conn.execute(delete(_A).where(_A.c.key == key))
            else:
                await conn.execute(update(_A).where(_A.c.key == key).values(
                    pool=new.pool, expires=new.expires, data=new.data))
                if new.pool != row.pool:
                    await _bound(conn, new.pool, max(1, bounds.get(new.pool, default_bound)), now)
            return result

    async def auth_change_within(
        self, key: str, change: Callable[[AuthSlot | None], AuthSlot | None], now: float,
    ) -> None:
        """Apply ``change`` to the record under ``key`` as part of the store transaction
        open in this task (:meth:`StoreBase.transaction`), so the record changes exactly
        when that transaction commits.  ``change`` gets the live record (None: there is
        none) and gives its new form (None removes it; a record that was not there is
        not created; the record stays in its pool; the record it got, given back as it
        is, writes nothing); what it raises aborts the
        transaction.  On SQLite it runs on the SQLite thread with the transaction's
        next statement (no trip of its own, under the transaction's write lock: what it
        raises comes from that statement); on PostgreSQL now, the row locked."""
        tx = self._open_tx.get()
        if tx is None:
            raise RuntimeError("auth_change_within needs an open store transaction")
        if self.dialect == "sqlite":
            (await sqlite_driver.adapted(tx.conn)).defer(_change_within_here, key, change, now)
            return
        query = select(_A.c.pool, _A.c.expires, _A.c.data).where(_A.c.key == key).with_for_update()
        row = (await tx.conn.execute(query)).first()
        live = None if row is None or row.expires < now else AuthSlot(
            row.pool, row.expires, bytes(row.data))
        new = change(live)
        if new is None:
            if row is not None:
                await tx.conn.execute(delete(_A).where(_A.c.key == key))
        elif live is not None and new is not live:
            fields = ({"data": new.data} if _same_expiry(live, new)
                      else {"expires": new.expires, "data": new.data})
            await tx.conn.execute(update(_A).where(_A.c.key == key).values(**fields))

    async def auth_take(self, key: str, now: float) -> AuthSlot | None:
        """Remove the record under ``key`` and return it if it was live: one statement
        (``DELETE ... RETURNING``), so of two takers only one gets it."""
        statement = delete(_A).where(_A.c.key == key).returning(
            _A.c.pool, _A.c.expires, _A.c.data)
        async with self._write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None or row.expires < now:
            return None
        return AuthSlot(row.pool, row.expires, bytes(row.data))

    async def auth_remove(self, key: str) -> None:
        """Forget the record under ``key``."""
        async with self._write() as conn:
            await conn.execute(delete(_A).where(_A.c.key == key))
