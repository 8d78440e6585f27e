"""The one writing connection of a SQLite store, kept open from one transaction to the next.

SQLite lets one transaction write at a time.  Taking a pooled connection for each
write (the pool's checkout, a new SQLAlchemy ``Connection``, its reset and check-in,
each through SQLAlchemy's greenlet) cost about twice the ``BEGIN`` ... ``COMMIT`` of
the write itself: ~90 µs of a create's CPU (issue 17).  :class:`HeldWriter` keeps one
connection checked out and lends it to one transaction of this process at a time (an
asyncio lock: writers of one process wait their turn here rather than in SQLite's busy
wait); other processes still meet at SQLite's write lock (``BEGIN IMMEDIATE`` and its
busy timeout), as before.  A connection that failed (invalidated or closed) is replaced
by a fresh one at the next transaction; one event loop's connection goes back to the
pool when another loop writes (a second ``asyncio.run`` over the same store).

The held connection stays in one SQLAlchemy transaction from the time it is taken (a
connection of :data:`registry.sqlite_driver.DBAPI` sends nothing for it): each write's
own transaction begins and ends on the driver connection
(:meth:`~registry.sqlite_driver.OneTripConnection.commit_async`), without SQLAlchemy's
begin and commit through its greenlet, which cost a create ~50 µs of CPU (issue 17).  A
failed commit raises SQLAlchemy's error for it all the same (an ``IntegrityError`` of a
name taken).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.sqlite_driver import OneTripConnection, adapted


class HeldWriter:
    """Transactions of ``engine`` (SQLite) on one connection kept checked out."""

    def __init__(self, engine: AsyncEngine,
                 after_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        #: called after each transaction committed (:mod:`registry.sqlite_checkpoints`)
        self.after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: how many connections were taken from the pool (tests: one for many writes)
        self.connections = 0

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A transaction on the held connection (as ``engine.begin()``: committed at
        the end of the block, rolled back when it raises)."""
        return _HeldTransaction(self)

    async def _take(self) -> tuple[AsyncConnection, asyncio.Lock]:
        """The held connection (a fresh one if it failed) and its lock, now held."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            stale, self._conn = self._conn, None
            self._loop, self._lock = loop, asyncio.Lock()
            if stale is not None and not stale.closed:
                await stale.close()  # back to the pool (no transaction is open on it)
        lock = self._lock
        assert lock is not None
        await lock.acquire()
        try:
            conn = self._conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self._conn = await self.engine.connect()
                await conn.begin()  # the one SQLAlchemy transaction, for the connection's life
                self.connections += 1
        except BaseException:
            lock.release()
            raise
        return conn, lock

    async def close(self) -> None:
        """Give the held connection back (before the engine is disposed)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()


class _HeldTransaction:
    """:meth:`HeldWriter.begin`'s block: a class, not a generator-based context manager
    (each write enters one: a generator, its first-iteration hook and its frame cost a
    create a few microseconds more)."""

    __slots__ = ("_lock", "_raw", "_writer")

    def __init__(self, writer: HeldWriter) -> None:
        self._writer = writer
        self._lock: asyncio.Lock | None = None
        self._raw: OneTripConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        conn, lock = await self._writer._take()
        try:
            raw = await adapted(conn)
            raw.begin()  # BEGIN IMMEDIATE, sent with the first statement
        except BaseException:
            lock.release()
            raise
        self._lock, self._raw = lock, raw
        return conn

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        lock, raw = self._lock, self._raw
        assert lock is not None and raw is not None
        try:
            if exc_type is not None:
                await raw.rollback_async()
                return
            try:
                await raw.commit_async()
            except Exception as error:
                await raw.rollback_async()
                dbapi_error = self._writer.engine.dialect.loaded_dbapi.Error
                if isinstance(error, dbapi_error):
                    raise DBAPIError.instance("COMMIT", None, error, dbapi_error,
                                              dialect=self._writer.engine.dialect) from error
                raise
            # committed: what the hook raises is its own, never the commit's failure
            if self._writer.after_commit is not None:
                self._writer.after_commit()
        finally:
            lock.release()
