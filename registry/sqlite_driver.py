"""SQLAlchemy's aiosqlite adapter with one trip to the SQLite thread per statement.

aiosqlite runs every call on its own thread; SQLAlchemy's adapter makes four
such trips for one statement (open a cursor, execute, fetch the rows, close
the cursor), each a queue hand-off, a thread wake-up and a wake-up of the event
loop.  A create over the Handle protocol runs about a dozen statements: under
load those trips, not SQLite, were most of its time (issue 17: ~31 trips per
create).  :class:`OneTripCursor` does the four steps in one function on the
SQLite thread and keeps what SQLAlchemy reads afterwards (rows, description,
rowcount, lastrowid).  Written here because neither aiosqlite nor SQLAlchemy
offers it; it plugs in through ``create_async_engine(module=...)``
(:data:`DBAPI`), the documented way to give a dialect another DBAPI module,
and leaves server-side cursors (unused here) as they were.  A transaction's
``BEGIN IMMEDIATE`` rides with its first statement, writes nobody reads back
(audit and change-feed rows, a new handle's head row with its values:
:func:`insert_parent_and_children`) with its next statement or its commit
(:meth:`OneTripConnection.defer`).  A create (a few indexed reads, a few rows) makes
no trip at all when the write lock is free: :meth:`OneTripConnection.call_now` runs it
on the event loop's thread, reads and commit, which saves waking the SQLite thread and
then the loop twice (on a busy 2-core machine those wake-ups cost more than the
create's SQL), and sends every :data:`THREAD_COMMIT_EVERY`-th such commit to the SQLite
thread, where SQLite may checkpoint the WAL (never on the loop's thread: there the
connection has no busy wait and no auto-checkpoint, set once when it begins working there
and set back by its next call on the SQLite thread, not around each create); when another
connection holds the lock it reads what it checks in one trip and commits in the next.
:func:`json_text` writes JSON columns (the same text, the common empty list without encoding);
:func:`insert_rows` is a bulk insert without SQLAlchemy's work per row;
:func:`insert_records_soon` queues one on the SQLite thread and does not wait
(:meth:`OneTripConnection.submit`), as multi-row ``INSERT`` statements.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import LargeBinary, Table, insert
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import EMPTY_DICT, await_

from registry.models import UTCDateTime

_Outcome = tuple[Any, int, int | None, list[Any]]
T = TypeVar("T")
BEGIN = "BEGIN IMMEDIATE"


Deferred = list[tuple[Callable[..., None], tuple[Any, ...]]]
#: of the transactions that began on the event loop's thread (:meth:`OneTripConnection.call_now`),
#: every this many-th commits on the SQLite thread, where SQLite checkpoints the WAL once it
#: holds ``wal_autocheckpoint`` pages (the others skip that: the log grows by at most this
#: many creates past it)
THREAD_COMMIT_EVERY = 16


class _Unlogged:
    """A call for aiosqlite's thread whose ``repr`` names only the function.

    aiosqlite logs every call it runs at DEBUG as the ``repr`` of a
    ``functools.partial``, arguments included: the rows of a write, HS_SECKEY
    secrets among them.  This stands in for the partial (aiosqlite wraps it in
    one more, whose ``repr`` shows ours), so a node logging at DEBUG logs no
    parameter of any statement."""

    __slots__ = ("__name__", "args", "fn")

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args
        self.__name__: str = getattr(fn, "__name__", "function")

    def __call__(self) -> Any:
        return self.fn(*self.args)

    def __repr__(self) -> str:
        return f"<sqlite call {self.__name__}>"


#: what a connection is set to while it works on the event loop's thread
#: (:meth:`OneTripConnection.call_now`): no busy wait, no WAL checkpoint in a commit
QUICK_SETTINGS = (0, 0)


def _set(conn: sqlite3.Connection, settings: tuple[int, int]) -> None:
    """Set ``conn``'s busy timeout (ms) and WAL auto-checkpoint (pages)."""
    busy_ms, autocheckpoint = settings
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")


def _then(conn: sqlite3.Connection, begin: bool, deferred: Deferred, fn: Callable[..., T],
          args: tuple[Any, ...], settings: tuple[int, int] | None = None) -> T:
    """On the SQLite thread: the connection's own ``settings`` back first when given
    (it worked on the loop's thread before), ``BEGIN IMMEDIATE`` when ``begin``, then
    the ``deferred`` writes, then ``fn``."""
    if settings is not None:
        _set(conn, settings)
    if begin:
        conn.execute(BEGIN)
    for write, write_args in deferred:
        write(conn, *write_args)
    return fn(conn, *args)


def _begin_now(conn: sqlite3.Connection) -> bool:
    """Here and now, on a connection set to :data:`QUICK_SETTINGS`: ``BEGIN IMMEDIATE``
    if the write lock is free (True), without the busy wait for it (False: another
    connection holds it)."""
    try:
        conn.execute(BEGIN)
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
            raise
        return False
    return True


def _commit(conn: sqlite3.Connection) -> None:
    """On the SQLite thread: commit; the transaction is rolled back if that (or a
    deferred write before it) fails."""
    try:
        if conn.in_transaction:
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _flush_and_commit(conn: sqlite3.Connection, begin: bool, deferred: Deferred,
                      settings: tuple[int, int] | None = None) -> None:
    try:
        _then(conn, begin, deferred, _commit, (), settings)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the SQLite thread: execute, fetch every row, close; what the cursor said."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement makes one trip to the SQLite thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # no driver cursor is opened here (the base class would: one trip)
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid or 0

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            outcome = await adapted.trip(operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        await self._trip(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the driver cursor closed on the SQLite thread."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection adapter handing out :class:`OneTripCursor`.

    It also saves the trips that carry no statement: a transaction's ``BEGIN
    IMMEDIATE`` (:meth:`begin`) goes to the SQLite thread with the first statement
    of the transaction, and a commit or rollback with no transaction open (the
    rollback the pool sends when a committed connection comes back) stays here.
    Writes whose outcome the caller does not read (an audit row, a change-feed
    row) can be :meth:`defer` red: they run on the SQLite thread before the next
    statement or the commit, in the same trip.
    """

    __slots__ = (
        "_began_now",
        "_begin_pending",
        "_deferred",
        "_in_transaction",
        "_now_commits",
        "_quick",
        "autocheckpoint",
        "busy_ms",
    )
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # a subclass of its cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin_pending = False
        self._deferred: Deferred = []
        # unknown until a trip says: a commit or rollback then goes to the thread
        self._in_transaction = True
        #: the connection's busy timeout (ms) and WAL auto-checkpoint (pages), set with it
        #: (``registry.db``); busy_ms 0: :meth:`call_now` never runs on the loop's thread
        self.busy_ms = 0
        self.autocheckpoint = 1000
        #: the open transaction began on the loop's thread (:meth:`call_now`): it commits
        #: there too, but every :data:`THREAD_COMMIT_EVERY`-th of them
        self._began_now = False
        self._now_commits = 0
        #: the sqlite3 connection is set to :data:`QUICK_SETTINGS` (it worked on the loop's
        #: thread last): its next call on the SQLite thread sets its own ones back first
        self._quick = False

    def begin(self) -> None:
        """Start a writing transaction (``BEGIN IMMEDIATE``) with the next statement."""
        self._begin_pending = True

    def defer(self, write: Callable[..., None], *args: Any) -> None:
        """Run ``write(sqlite3 connection, *args)`` on the SQLite thread in this
        transaction, before its next statement or its commit (in that trip): an error
        it raises comes from that statement or the commit, and the transaction then
        rolls back; a rollback before it runs drops it."""
        self._deferred.append((write, args))

    async def trip(self, operation: str, parameters: Any, many: bool = False) -> _Outcome:
        """Run one statement on the SQLite thread (after a pending ``BEGIN IMMEDIATE``);
        the caller holds ``_execute_mutex``."""
        return await self._on_thread(_run, operation, parameters, many)

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3 connection, *args)`` on the SQLite thread, in one trip (after a
        pending ``BEGIN IMMEDIATE``); the caller holds ``_execute_mutex``."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        begin, self._begin_pending = self._begin_pending, False
        deferred, self._deferred = self._deferred, []
        try:
            return await connection._execute(
                _Unlogged(_then, connection._conn, begin, deferred, fn, args, self._own()))
        finally:
            # read after the trip, the thread idle again
            self._in_transaction = bool(connection._conn and connection._conn.in_transaction)

    def _own(self) -> tuple[int, int] | None:
        """The connection's own busy timeout and auto-checkpoint, for the next call on the
        SQLite thread to set back, when it is set to :data:`QUICK_SETTINGS` (else None).

        The loop's thread sets those once, when it first begins a transaction there, not
        for each one: a create made no trip but four statements more (the two settings
        set and set back around its ``BEGIN IMMEDIATE`` and around its ``COMMIT``)."""
        if not self._quick:
            return None
        self._quick = False
        return self.busy_ms, self.autocheckpoint

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(sqlite3 connection, *args)`` queued for the SQLite thread here and now
        (after a pending ``BEGIN IMMEDIATE`` and the deferred writes), behind every trip
        queued before and ahead of every trip queued after: its outcome, a future the
        caller awaits before the transaction ends (meanwhile the caller works on, and its
        next statements run after this one, in the same transaction).  Not for a
        connection another task may use meanwhile."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        if not connection._running or connection._conn is None:
            raise ValueError("Connection closed")
        begin, self._begin_pending = self._begin_pending, False
        deferred, self._deferred = self._deferred, []
        # (so a commit or rollback goes to the thread, behind this; the next trip reads
        # the connection's state again)
        self._in_transaction = True
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        connection._tx.put_nowait(
            (future, _Unlogged(_then, connection._conn, begin, deferred, fn, args, self._own())))
        return future

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3 connection, *args)`` on the SQLite thread, in one trip: several
        statements (a whole short transaction) for the price of one."""
        async with self._execute_mutex:
            return await self._on_thread(fn, *args)

    async def call_now(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3 connection, *args)`` as :meth:`call`, but here on the event loop's
        thread, with no trip, when it is the first statement of a writing transaction
        and the write lock is free (``BEGIN IMMEDIATE`` taken without waiting); else on
        the SQLite thread, which waits for the lock.  Only for a few indexed statements
        (a create's reads of what it checks): the loop waits for them."""
        async with self._execute_mutex:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            db = connection._conn
            if not (self._begin_pending and self.busy_ms and db is not None):
                return await self._on_thread(fn, *args)
            if not self._quick:
                _set(db, QUICK_SETTINGS)
                self._quick = True
            if not _begin_now(db):
                return await self._on_thread(fn, *args)
            self._begin_pending = False
            self._began_now = True
            deferred, self._deferred = self._deferred, []
            try:
                return _then(db, False, deferred, fn, args)
            finally:
                self._in_transaction = db.in_transaction

    async def fetch_all(self, operation: str, parameters: Any) -> list[Any]:
        """The rows of one statement, in one trip (raw: no type processing)."""
        async with self._execute_mutex:
            return (await self.trip(operation, parameters))[3]

    def rollback(self) -> None:
        self._begin_pending = self._began_now = False
        self._deferred = []
        if self._in_transaction:
            super().rollback()
            self._in_transaction = False

    def commit(self) -> None:
        try:
            if self._commit_here():
                return
        except Exception as error:
            self._handle_exception(error)
        if self._deferred:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            begin, self._begin_pending = self._begin_pending, False
            deferred, self._deferred = self._deferred, []
            try:
                await_(connection._execute(_Unlogged(
                    _flush_and_commit, connection._conn, begin, deferred, self._own())))
            except Exception as error:
                self._handle_exception(error)
            finally:
                self._in_transaction = bool(connection._conn
                                            and connection._conn.in_transaction)
            return
        self._begin_pending = False
        if self._in_transaction:
            super().commit()
            self._in_transaction = False

    def _commit_here(self) -> bool:
        """Commit on this thread, with no trip, a transaction that began here
        (:meth:`call_now`), but every :data:`THREAD_COMMIT_EVERY`-th; False: not done."""
        began_now, self._began_now = self._began_now, False
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        db = connection._conn
        if not (began_now and db is not None and self._in_transaction):
            return False
        self._now_commits += 1
        if not self._now_commits % THREAD_COMMIT_EVERY:
            return False
        # a create's few rows: committed here, with no trip (and no WAL checkpoint:
        # QUICK_SETTINGS, set since the transaction began here)
        deferred, self._deferred = self._deferred, []
        try:
            _flush_and_commit(db, False, deferred)
        finally:
            self._in_transaction = db.in_transaction
        return True

    async def commit_async(self) -> None:
        """:meth:`commit` awaited on the event loop, not through SQLAlchemy's greenlet
        (:mod:`registry.sqlite_writer`): sqlite3's error as it is when it fails."""
        if self._commit_here():
            return
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        begin, self._begin_pending = self._begin_pending, False
        deferred, self._deferred = self._deferred, []
        if not (deferred or self._in_transaction):
            return  # nothing was begun: no trip
        try:
            await connection._execute(
                _Unlogged(_flush_and_commit, connection._conn, begin, deferred, self._own()))
        finally:
            self._in_transaction = bool(connection._conn and connection._conn.in_transaction)

    async def rollback_async(self) -> None:
        """:meth:`rollback` awaited on the event loop, on the SQLite thread after whatever
        runs there still (a statement whose caller was cancelled)."""
        self._begin_pending = self._began_now = False
        self._deferred = []
        if self._in_transaction:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            await connection.rollback()
            self._in_transaction = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections are :class:`OneTripConnection`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def begin_immediate(dbapi_connection: Any) -> None:
    """Start a writing transaction on a connection of :data:`DBAPI` (``BEGIN IMMEDIATE``
    goes with its first statement), or at once on any other sqlite3 connection."""
    if isinstance(dbapi_connection, OneTripConnection):
        dbapi_connection.begin()
    else:
        dbapi_connection.cursor().execute(BEGIN)


#: pass as ``create_async_engine(url, module=DBAPI)`` for a ``sqlite+aiosqlite`` URL
DBAPI = OneTripDBAPI(aiosqlite, sqlite3)


def json_text(value: Any) -> str:
    """JSON columns' text (``create_async_engine(json_serializer=...)``): what
    :func:`json.dumps` writes, with the empty list most value rows hold (their
    references) not encoded again for every row of a bulk insert."""
    if isinstance(value, list) and not value:
        return "[]"
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class PreparedInsert:
    """An ``INSERT`` of some columns of a table as SQLite text, with each column's bind
    processor (booleans, JSON, times), to run straight on the sqlite3 connection."""

    sql: str
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    #: the columns' values of a row in the statement's order, in one call
    _pick: Callable[[Mapping[str, Any]], Any] = field(init=False, repr=False, compare=False)
    #: (position, processor) of the columns that have one
    _process: tuple[tuple[int, Callable[[Any], Any]], ...] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pick = operator.itemgetter(*self.columns)
        object.__setattr__(self, "_pick", pick if len(self.columns) > 1
                           else lambda row: (pick(row),))
        object.__setattr__(self, "_process", tuple(
            (i, process) for i, process in enumerate(self.processors) if process))

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """``row``'s values in the statement's order, as SQLAlchemy would bind them."""
        values = self._pick(row)
        if not self._process:
            return tuple(values)
        out = list(values)
        for i, process in self._process:
            out[i] = process(out[i])
        return tuple(out)


def utc_text(value: datetime | None) -> str | None:
    """A :class:`~registry.models.UTCDateTime` value as SQLite stores it, in one step:
    the text its bind processor and SQLite ``DATETIME``'s make in two (UTC, naive,
    ``YYYY-MM-DD HH:MM:SS.ffffff``), for the times every write binds (a create: its
    head's, its audit row's, its change row's)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _bind_processor(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a value of ``table.name`` goes to sqlite3: none for bytes (LargeBinary's
    processor only wraps them), :func:`utc_text` for UTC times, else the type's own."""
    kind = table.c[name].type
    if isinstance(kind, LargeBinary):
        return None
    if isinstance(kind, UTCDateTime) and dialect.name == "sqlite":
        return utc_text
    return kind._cached_bind_processor(dialect)


@functools.lru_cache(maxsize=64)
def prepared_insert(dialect: Dialect, table: Table, columns: tuple[str, ...],
                    returning: str | None = None) -> PreparedInsert:
    """The :class:`PreparedInsert` of ``columns`` of ``table`` on ``dialect`` (an
    engine's: its JSON serializer), optionally ``RETURNING`` one column."""
    statement = insert(table)
    if returning is not None:
        statement = statement.returning(table.c[returning])
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    order = tuple(compiled.positiontup or ())
    processors = tuple(_bind_processor(table, name, dialect) for name in order)
    return PreparedInsert(str(compiled), order, processors)


async def adapted(conn: AsyncConnection) -> OneTripConnection:
    """The :class:`OneTripConnection` under ``conn`` (an engine of :data:`DBAPI`): read
    here when ``conn`` holds one (neither closed nor invalidated: nothing to wait for),
    without the trip through SQLAlchemy's greenlet that
    :meth:`AsyncConnection.get_raw_connection` makes (a create asks four times)."""
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        raw = sync.connection.dbapi_connection
    else:
        raw = (await conn.get_raw_connection()).dbapi_connection
    assert isinstance(raw, OneTripConnection)
    return raw


async def fetch_raw(conn: AsyncConnection, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
    """The raw driver rows of SQLite text ``sql`` run on ``conn``, in one trip (no
    SQLAlchemy statement, no type processing)."""
    return await (await adapted(conn)).fetch_all(sql, parameters)


def _fetch_each(db: sqlite3.Connection, statements: Sequence[tuple[str, tuple[Any, ...]]]
                ) -> list[list[Any]]:
    return [db.execute(sql, parameters).fetchall() for sql, parameters in statements]


async def fetch_each(conn: AsyncConnection, statements: Sequence[tuple[str, tuple[Any, ...]]],
                     *, now: bool = False) -> list[list[Any]]:
    """The raw driver rows of each of ``statements`` (SQLite text, parameters) run on
    ``conn`` in order, all in one trip (with a pending ``BEGIN IMMEDIATE`` and deferred
    writes first); ``now``: with no trip when that needs no waiting
    (:meth:`OneTripConnection.call_now`)."""
    raw = await adapted(conn)
    return await (raw.call_now if now else raw.call)(_fetch_each, statements)


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
                      ) -> None:
    """``INSERT`` ``rows`` (mappings with the same columns) into ``table`` as one
    ``executemany`` on the driver: each column's bind processor (booleans, JSON, times)
    applied here once per value, without SQLAlchemy's construction of every row's
    parameters, which was a quarter of a bulk import's time."""
    if not rows:
        return
    prepared = prepared_insert(conn.dialect, table, tuple(rows[0]))
    await conn.exec_driver_sql(prepared.sql, [prepared.params(row) for row in rows])


def _insert_parent_and_children(
    db: sqlite3.Connection, parent: PreparedInsert, head: tuple[Any, ...],
    children: PreparedInsert | None, rows: list[tuple[Any, ...]], slot: int,
) -> None:
    new_id = int(db.execute(parent.sql, head).fetchone()[0])
    if children is not None:
        db.executemany(children.sql, [(*row[:slot], new_id, *row[slot + 1:]) for row in rows])


async def insert_parent_and_children(
    conn: AsyncConnection, parent: Table, head: Mapping[str, Any], children: Table,
    rows: Sequence[Mapping[str, Any]], parent_id: str,
) -> None:
    """``INSERT`` ``head`` into ``parent`` (returning its ``id``) and ``rows`` into
    ``children`` with that id in their column ``parent_id`` (whatever the rows hold
    there), deferred (:meth:`OneTripConnection.defer`): they run with the
    transaction's next statement or its commit, in that trip, and what they raise
    (a name taken) is that statement's or the commit's error."""
    first = prepared_insert(conn.dialect, parent, tuple(head), "id")
    then = prepared_insert(conn.dialect, children, tuple(rows[0])) if rows else None
    slot = 0 if then is None else then.columns.index(parent_id)
    params = [] if then is None else [then.params(row) for row in rows]
    (await adapted(conn)).defer(
        _insert_parent_and_children, first, first.params(head), then, params, slot)


async def insert_records(conn: AsyncConnection, table: Table, columns: Sequence[str],
                         records: Sequence[tuple[Any, ...]]) -> None:
    """``INSERT`` ``records``, tuples in the order of ``columns`` already in the form
    sqlite3 binds (numbers, text, bytes, booleans; JSON as text, times as
    :func:`bind_value` gives them), as one ``executemany`` of one prepared statement:
    a bulk write builds no mapping per row."""
    if not records:
        return
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    await conn.exec_driver_sql(sql, list(records))


#: the most parameters one statement of :func:`insert_records_soon` binds: SQLite's
#: default limit since 3.32 (a build with a lower one binds up to its own)
MAX_PARAMETERS = 32766


@functools.lru_cache(maxsize=64)
def _rows_sql(head: str, width: int, count: int) -> str:
    """``head`` (``INSERT INTO t (columns) VALUES ``) and ``count`` rows of ``width``
    placeholders."""
    return head + ",".join(["(" + ",".join("?" * width) + ")"] * count)


def _insert_many(db: sqlite3.Connection, head: str, width: int,
                 records: Sequence[tuple[Any, ...]]) -> None:
    """On the SQLite thread: ``records`` as multi-row ``INSERT`` statements, each as many
    rows as the parameter limit lets it bind, the rest in statements of a power of two
    rows each (the largest first).  So every statement is one of a few texts, which the
    connection keeps prepared: SQLite compiles a multi-row statement in ~3x the time it
    runs it (a 1,024-row value insert 1.3 ms run, +3.5 ms compiled), and a batch's last
    statement had a count of its own each time (compiled anew under the write lock, and
    kept in the connection's cache beside the others, ~1 MB each)."""
    per = max(1, min(MAX_PARAMETERS, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
              // width)
    chain = itertools.chain.from_iterable
    start, left = 0, len(records)
    while left:
        count = per if left >= per else 1 << (left.bit_length() - 1)
        db.execute(_rows_sql(head, width, count), list(chain(records[start:start + count])))
        start, left = start + count, left - count


async def insert_records_soon(conn: AsyncConnection, table: Table, columns: Sequence[str],
                              records: Sequence[tuple[Any, ...]]) -> asyncio.Future[None]:
    """:func:`insert_records`' rows queued on the SQLite thread
    (:meth:`OneTripConnection.submit`) and not waited for: the future to await before
    the transaction commits.  The rows go as multi-row ``INSERT`` statements of up to
    :data:`MAX_PARAMETERS` parameters (the same rows in the same order): a step, and a
    release of the GIL, per ~2,500 value rows, not per row as ``executemany`` steps.
    A thread that waits for the GIL after each of its steps while the event loop's
    thread works makes little headway (a row each switch interval, 5 ms); so the
    loop's thread works on while SQLite inserts (and CPU -8% for the value rows)."""
    quote = conn.dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    return (await adapted(conn)).submit(_insert_many, head, len(columns), records)


async def settle(conn: AsyncConnection, pending: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for every queued call of ``pending`` (:meth:`OneTripConnection.submit`) on
    ``conn``; then raise the first one's error, a sqlite3 error as SQLAlchemy's
    (``IntegrityError``...), as the same statement run through ``conn`` would."""
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, sqlite3.Error):
            raise DBAPIError.instance("INSERT", None, outcome, sqlite3.Error,
                                      dialect=conn.dialect) from outcome
        if isinstance(outcome, BaseException):
            raise outcome


def bind_value(conn: AsyncConnection, table: Table, column: str, value: Any) -> Any:
    """``value`` of ``table.column`` as the dialect's bind processor hands it to the driver
    (for a value that many rows of a bulk insert share, processed once)."""
    process = _bind_processor(table, column, conn.dialect)
    return process(value) if process else value
