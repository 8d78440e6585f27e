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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.sqlite_driver import adapted


class HeldWriter:
    """Transactions of ``engine`` (SQLite) on one connection kept checked out."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: how many connections were taken from the pool (tests: one for many writes)
        self.connections = 0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on the held connection (as ``engine.begin()``: committed at
        the end of the block, rolled back when it raises)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            stale, self._conn = self._conn, None
            self._loop, self._lock = loop, asyncio.Lock()
            if stale is not None and not stale.closed:
                await stale.close()  # back to the pool (no transaction is open on it)
        assert self._lock is not None
        async with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self._conn = await self.engine.connect()
                await conn.begin()  # the one SQLAlchemy transaction, for the connection's life
                self.connections += 1
            raw = await adapted(conn)
            raw.begin()  # BEGIN IMMEDIATE, sent with the first statement
            try:
                yield conn
            except BaseException:
                await raw.rollback_async()
                raise
            try:
                await raw.commit_async()
            except Exception as error:
                await raw.rollback_async()
                if isinstance(error, self.engine.dialect.loaded_dbapi.Error):
                    raise DBAPIError.instance("COMMIT", None, error,
                                              self.engine.dialect.loaded_dbapi.Error,
                                              dialect=self.engine.dialect) from error
                raise

    async def close(self) -> None:
        """Give the held connection back (before the engine is disposed)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()
