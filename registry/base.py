"""Connection plumbing shared by every part of :class:`registry.store.HandleStore`.

Reads go through an engine that runs without a transaction block (PostgreSQL
autocommit, SQLite without ``BEGIN``, on a pool of read connections of its own,
:func:`registry.db.sqlite_read_engine`): one statement, one round trip; a SQLite
point read (one record by its key) runs on the caller's thread when it can without
waiting (:mod:`registry.sqlite_reads`), with no trip at all, and a PostgreSQL one
as a statement prepared once per connection, on asyncpg directly
(:mod:`registry.pg_reads`).  Writes
run in one transaction each (``BEGIN IMMEDIATE`` on SQLite, on the one writing
connection the store keeps, :mod:`registry.sqlite_writer`; row locks on
PostgreSQL).  ``query_count`` counts every statement sent to the database.

``on_change``, when set, is awaited after every committed write of handles or
prefixes with the names of the handles it changed (a prefix's own row counts
as its prefix handle ``0.NA/<prefix>``).  The CLI sets it to tell the serving
processes' caches (:mod:`admin.invalidation`); the servers invalidate their
caches themselves.

:meth:`StoreBase.transaction` makes several operations one transaction: inside
it every read and write of this store runs on the same connection, and the
change notices go out after the commit (none after a rollback).  Operator
commands that do several things (``enterprise add``: enterprise, prefix,
prefix handle) use it so a failure leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.db import (
    MODE_OPTION,
    PG_POINT_READERS,
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_READ_THREADS,
    sqlite_read_engine,
)
from registry.pg_batches import KeyBatcher
from registry.pg_reads import PointReader
from registry.sqlite_checkpoints import BackgroundCheckpoints
from registry.sqlite_driver import OneTripConnection, adapted
from registry.sqlite_reads import InlineReader, ThreadedReader
from registry.sqlite_writer import HeldWriter

T = TypeVar("T")
ChangeHook = Callable[[Sequence[str]], Awaitable[None]]
"""Called with the names of the handles a committed write changed."""


@dataclass(slots=True)
class _Transaction:
    """The connection of an open :meth:`StoreBase.transaction` and what it changed."""

    conn: AsyncConnection
    changed: list[str] = field(default_factory=list)


class StoreBase:
    """Owns the engine; subclasses add the operations."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.query_count = 0
        self.on_change: ChangeHook | None = None
        self._open_tx: ContextVar[_Transaction | None] = ContextVar(
            f"store-transaction-{id(self)}", default=None
        )
        self._inline: InlineReader | None = None
        self._threaded: ThreadedReader | None = None
        self._writer: HeldWriter | None = None
        self._checkpoints: BackgroundCheckpoints | None = None
        if engine.dialect.name == "sqlite":
            assert engine.url.database
            self._checkpoints = BackgroundCheckpoints(engine.url.database)
            self._writer = HeldWriter(engine, after_commit=self._checkpoints.written)
            self._inline = InlineReader(engine.url.database)
            self._threaded = ThreadedReader(engine.url.database, size=SQLITE_READ_THREADS,
                                            busy_ms=SQLITE_BUSY_TIMEOUT_MS)
            self.read_engine = sqlite_read_engine(engine)
            self._reader = self.read_engine.execution_options(**{MODE_OPTION: "read"})
        else:
            self.read_engine = engine
            self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._points = (
            PointReader(self._reader, PG_POINT_READERS)
            if engine.dialect.name == "postgresql" else None
        )
        self._batchers: dict[str, KeyBatcher] = {}
        for one in {engine, self.read_engine}:
            event.listen(one.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.query_count += 1

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Run the store operations inside the block as one transaction (see module doc);
        its connection (``as conn``) for a write of the store's own.  Inside an open one,
        the block joins it."""
        return _TransactionWrite(self)

    def _begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A writing transaction: on SQLite on the store's held writing connection
        (:mod:`registry.sqlite_writer`), else on a pooled one."""
        return self.engine.begin() if self._writer is None else self._writer.begin()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        tx = self._open_tx.get()
        if tx is not None:
            yield tx.conn
            return
        async with self._reader.connect() as conn:
            yield conn

    def _point_read_now(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """The rows of a SQLite point read run here and now, outside any transaction;
        None when that would mean waiting (see :class:`InlineReader`) or the store is
        not SQLite: then :meth:`_point_read_sqlite` (or the PostgreSQL read) is the way."""
        if self._inline is None or self._open_tx.get() is not None:
            return None
        rows = self._inline.rows(sql, params)
        if rows is not None:
            self.query_count += 1
        return rows

    async def _point_read_sqlite(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of a point read (one record by its key) outside any transaction:
        on this thread when SQLite can answer without waiting, else on a reader
        thread (:mod:`registry.sqlite_reads`); through the read pool in a forked child."""
        if self._inline is not None:
            rows = self._inline.rows(sql, params)
            if rows is None and self._threaded is not None:
                rows = await self._threaded.rows(sql, params)
            if rows is not None:
                self.query_count += 1
                return rows
        async with self._read() as conn:
            return await self._fetch_sqlite(conn, sql, params)

    async def _point_read_pg(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of a PostgreSQL point read outside any transaction, straight on
        asyncpg (:mod:`registry.pg_reads`); ``sql`` has ``$1``-style parameters."""
        assert self._points is not None
        rows = await self._points.rows(sql, params)
        self.query_count += 1
        return rows

    async def _key_read_pg(self, sql: str, key: str) -> list[Any]:
        """The rows of one key of a PostgreSQL point read outside any transaction, sent
        together with the other keys asked for meanwhile (:mod:`registry.pg_batches`);
        ``sql`` takes the keys as ``$1``, a ``varchar[]``, and leads each row with its key."""
        batcher = self._batchers.get(sql)
        if batcher is None:
            assert self._points is not None
            batcher = self._batchers[sql] = KeyBatcher(self._points, sql, on_send=self._sent)
        return await batcher.rows(key)

    def _sent(self) -> None:
        self.query_count += 1

    async def _fetch_sqlite(
        self, conn: AsyncConnection, sql: str, params: tuple[Any, ...]
    ) -> list[Any]:
        """Run compiled ``sql`` straight on the aiosqlite connection of ``conn``.

        One hop to the driver thread instead of SQLAlchemy's five (cursor,
        execute, fetch, close...): worth it on the resolver's cache-miss path.
        Rows come back raw (no type processing).
        """
        self.query_count += 1
        return await (await adapted(conn)).fetch_all(sql, params)

    async def _sqlite_call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3 connection, *args)`` on the SQLite thread of a writing connection,
        in one trip, outside any transaction of this store (``fn`` opens and ends its own)."""
        async with self.engine.connect() as conn:
            adapted = (await conn.get_raw_connection()).dbapi_connection
            assert isinstance(adapted, OneTripConnection)
            self.query_count += 1
            return await adapted.call(fn, *args)

    async def _changed(self, handles: Sequence[str]) -> None:
        """Tell :attr:`on_change` (when set) the handles a committed write changed."""
        tx = self._open_tx.get()
        if tx is not None:
            tx.changed.extend(handles)
        elif self.on_change is not None and handles:
            await self.on_change(handles)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        tx = self._open_tx.get()
        if tx is not None:
            yield tx.conn
            return
        async with self._begin() as conn:
            yield conn

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._writer is not None:
            await self._writer.close()
        if self._checkpoints is not None:
            self._checkpoints.close()
        if self._inline is not None:
            self._inline.close()
        if self._threaded is not None:
            self._threaded.close()
        for batcher in self._batchers.values():
            await batcher.close()
        if self._points is not None:
            await self._points.close()
        for one in {self.engine, self.read_engine}:
            event.remove(one.sync_engine, "before_cursor_execute", self._count)
            await one.dispose()


class _TransactionWrite:
    """:meth:`StoreBase.transaction`'s block, a class rather than a generator (each write
    enters one: a generator, its first-iteration hook and its frame cost a create a few
    microseconds more): the open transaction joined, else one begun, the store's change
    hook told what it changed once it committed."""

    __slots__ = ("_begun", "_store", "_token", "_tx")

    def __init__(self, store: StoreBase) -> None:
        self._store = store
        self._begun: AbstractAsyncContextManager[AsyncConnection] | None = None
        self._tx: _Transaction | None = None
        self._token: Token[_Transaction | None] | None = None

    async def __aenter__(self) -> AsyncConnection:
        store = self._store
        open_tx = store._open_tx.get()
        if open_tx is not None:  # already inside one: join it
            return open_tx.conn
        begun = store._begin()
        conn = await begun.__aenter__()
        self._begun, self._tx = begun, _Transaction(conn)
        self._token = store._open_tx.set(self._tx)
        return conn

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        begun, tx, token = self._begun, self._tx, self._token
        if begun is None:
            return
        assert tx is not None and token is not None
        self._store._open_tx.reset(token)
        if await begun.__aexit__(exc_type, exc, tb):
            return  # (a transaction never swallows what its block raised)
        if exc_type is None:
            await self._store._changed(tx.changed)
