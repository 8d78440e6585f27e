"""SQLite statements make one trip to aiosqlite's thread each and behave as before; bulk
inserts without SQLAlchemy's work per row store the same, queued ones too."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.values import HandleValue, ValueReference
from registry import sqlite_driver
from registry.db import SQLITE_BUSY_TIMEOUT_MS, SQLITE_WAL_AUTOCHECKPOINT, open_engine
from registry.errors import HandleAlreadyExists
from registry.models import Handle, HandleValueRow, table_of, utcnow
from registry.sqlite_driver import (
    THREAD_COMMIT_EVERY,
    adapted,
    bind_value,
    insert_records_soon,
    insert_rows,
    prepared_insert,
    settle,
    utc_text,
)
from registry.store import HandleStore
from registry.valuerows import value_row

#: a writing connection's busy timeout and WAL auto-checkpoint, as registry.db sets them
OWN_SETTINGS = (SQLITE_BUSY_TIMEOUT_MS, SQLITE_WAL_AUTOCHECKPOINT)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine of this node's with a table ``t (id, name)``."""
    made = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    try:
        async with made.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        yield made
    finally:
        await made.dispose()


async def test_one_trip_per_statement_with_rows_counts_and_errors(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # after the BEGIN IMMEDIATE of the write engine
        made = len(trips)
        many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"),
                                  [{"n": "a"}, {"n": "b"}, {"n": "c"}])
        assert (len(trips) - made, many.rowcount) == (1, 3)
        made = len(trips)
        new = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
        assert (len(trips) - made, new.scalar_one()) == (1, 4)
        made = len(trips)
        rows = await conn.execute(text("SELECT id, name FROM t WHERE id > :i ORDER BY id"),
                                  {"i": 1})
        assert len(trips) - made == 1
        assert [tuple(r) for r in rows] == [(2, "b"), (3, "c"), (4, "d")]
        changed = await conn.execute(text("UPDATE t SET name = name || 'x' WHERE id < 3"))
        assert changed.rowcount == 2
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (name) VALUES ('ax')"))
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 4
        await conn.commit()


async def _ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT id FROM t ORDER BY id"))).scalars())


async def test_a_write_transaction_makes_no_trip_without_a_statement(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """BEGIN IMMEDIATE goes with the first statement (the write lock is held from then
    on), the commit is one trip, the pool's rollback of a committed connection none."""
    assert engine.url.database is not None
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        trips.clear()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # this transaction holds the lock
            await conn.execute(text("INSERT INTO t (id) VALUES (2)"))
        assert trips == ["_then", "_then", "commit"]
        trips.clear()
        async with engine.begin():
            pass  # no statement: nothing to begin or commit
        assert trips == []
        other.execute("BEGIN IMMEDIATE")  # free again
        other.execute("ROLLBACK")
    finally:
        other.close()
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (3)"))
            await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
    assert await _ids(engine) == [1, 2]  # the failed transaction was rolled back


def _insert(db: sqlite3.Connection, ident: int) -> None:
    db.execute("INSERT INTO t (id) VALUES (?)", (ident,))


async def test_deferred_writes_go_with_the_next_trip_and_die_with_a_rollback(
    engine: AsyncEngine, trips: list[str]
) -> None:
    trips.clear()
    async with engine.begin() as conn:
        (await adapted(conn)).defer(_insert, 1)  # before the transaction's first statement
        seen = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
        (await adapted(conn)).defer(_insert, 2)  # goes with the commit
    assert (seen, trips) == (1, ["_then", "_flush_and_commit"])
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (3)"))
            (await adapted(conn)).defer(_insert, 4)
            raise RuntimeError("the caller fails: nothing of the transaction stays")
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (5)"))
            (await adapted(conn)).defer(_insert, 1)  # fails at the commit
    assert await _ids(engine) == [1, 2]


async def test_insert_rows_stores_what_sqlalchemy_would(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'rows.db'}")
    try:
        handles, values = table_of(Handle), table_of(HandleValueRow)
        now = utcnow()
        head = {"name": "88.118.8/A", "name_key": "88.118.8/A", "prefix": "88.118.8",
                "enterprise": None, "version": 1, "created": now, "updated": now}
        async with store.engine.begin() as conn:
            await insert_rows(conn, handles, [head, {**head, "name": "88.118.8/b",
                                                     "name_key": "88.118.8/B"}])
            hid = (await conn.execute(select(handles.c.id).where(
                handles.c.name_key == "88.118.8/B"))).scalar_one()
            refs = [HandleValue(1, "HS_VLIST", b"", references=(ValueReference("0.NA/x", 300),)),
                    HandleValue(2, "URL", b"https://e.x", public_read=False)]
            await insert_rows(conn, values, [value_row(hid, "88.118.8/B", v) for v in refs])
            await insert_rows(conn, values, [])
        record = await store.get_handle("88.118.8/b")
        assert record is not None and list(record.values) == refs
        assert (await store.get_handle("88.118.8/A")) is not None
        async with store.engine.connect() as conn:
            created = (await conn.execute(select(handles.c.created))).scalars().all()
        assert created == [now, now]
    finally:
        await store.close()


async def test_a_create_makes_no_trip_when_the_write_lock_is_free(
    tmp_path: Path, trips: list[str]
) -> None:
    """BEGIN IMMEDIATE, the lock read with the prefixes and owners, the head row, its
    values, the audit and change-feed rows and the commit on the loop's thread when
    nothing waits for the lock; every THREAD_COMMIT_EVERY-th such commit on the SQLite
    thread, where SQLite may checkpoint the WAL; busy timeout and auto-checkpoint as set."""
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'creates.db'}")
    try:
        # the first write of a process may prune the change feed (a statement more)
        await store.create_handle("88.118.8/T-0", [HandleValue(1, "URL", b"x")], actor="t")
        trips.clear()
        created = await store.create_handle("88.118.8/T-1", [HandleValue(1, "URL", b"x")],
                                            actor="t")
        assert trips == []
        assert await store.get_handle("88.118.8/T-1") == created
        assert [(e.action, e.handle) for e in await store.audit_entries()] == [
            ("create", "88.118.8/T-0"), ("create", "88.118.8/T-1")]
        with pytest.raises(HandleAlreadyExists):
            await store.create_handle("88.118.8/t-1", [HandleValue(1, "URL", b"y")], actor="t")
        assert await store.get_handle("88.118.8/T-1") == created
        trips.clear()
        for i in range(2, 2 + 2 * THREAD_COMMIT_EVERY):
            await store.create_handle(f"88.118.8/T-{i}", [HandleValue(1, "URL", b"x")],
                                      actor="t")
        assert trips == ["_flush_and_commit"] * 2
        assert await store.count_handles("88.118.8") == 2 + 2 * THREAD_COMMIT_EVERY
        assert (await store.verify_audit()).ok
        async with store.transaction(), store._write() as conn:
            raw = await adapted(conn)
            assert (raw.busy_ms, raw.autocheckpoint) == OWN_SETTINGS
            settings = await raw.call(lambda db: (
                db.execute("PRAGMA busy_timeout").fetchone()[0],
                db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))
        assert settings == OWN_SETTINGS
    finally:
        await store.close()


async def test_creates_on_the_loop_thread_set_the_connection_once(
    tmp_path: Path, trips: list[str]
) -> None:
    """The loop's thread sets the writing connection to no busy wait and no checkpoint
    when it first begins a transaction there, not around each create: creates in a row
    send no PRAGMA; the next call on the SQLite thread (the THREAD_COMMIT_EVERY-th
    commit, here a read in a transaction) finds its own busy timeout and auto-checkpoint
    set back, and a create after it sets them again once."""
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'creates.db'}")
    try:
        await store.create_handle("88.118.8/T-0", [HandleValue(1, "URL", b"x")], actor="t")
        async with store.transaction(), store._write() as conn:
            raw = await adapted(conn)
        db = raw._connection._conn
        assert db is not None
        sent: list[str] = []
        db.set_trace_callback(sent.append)

        def settings() -> tuple[int, int]:
            return (db.execute("PRAGMA busy_timeout").fetchone()[0],
                    db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

        trips.clear()
        for i in range(1, 4):
            await store.create_handle(f"88.118.8/T-{i}", [HandleValue(1, "URL", b"x")],
                                      actor="t")
        assert trips == [] and [s for s in sent if "PRAGMA" in s] == []
        assert [s for s in sent if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
            "BEGIN IMMEDIATE", "COMMIT"] * 3
        db.set_trace_callback(None)
        assert settings() == (0, 0)
        async with store.transaction(), store._write() as conn:
            assert await raw.call(lambda _db: settings()) == OWN_SETTINGS
        db.set_trace_callback(sent.append)
        sent.clear()
        await store.create_handle("88.118.8/T-4", [HandleValue(1, "URL", b"x")], actor="t")
        assert [s for s in sent if "PRAGMA" in s] == [
            "PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0"]
        db.set_trace_callback(None)
        assert await store.count_handles("88.118.8") == 5
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


async def test_a_create_waits_for_the_write_lock_on_the_sqlite_thread(
    tmp_path: Path, trips: list[str]
) -> None:
    """Another connection (another process) holding the write lock: the create does not
    wait on the loop's thread but in a trip, and goes on once the lock is free."""
    path = tmp_path / "creates.db"
    store = await HandleStore.open(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await store.create_handle("88.118.8/T-0", [HandleValue(1, "URL", b"x")], actor="t")
        other.execute("BEGIN IMMEDIATE")
        trips.clear()
        waiting = asyncio.create_task(
            store.create_handle("88.118.8/T-1", [HandleValue(1, "URL", b"x")], actor="t"))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # the loop runs on: this test's sleep ended
        other.execute("COMMIT")
        created = await waiting
        assert trips == ["_then", "_flush_and_commit"]
        assert await store.get_handle("88.118.8/T-1") == created
        assert (await store.verify_audit()).ok
    finally:
        other.close()
        await store.close()


async def test_prepared_params_bind_each_column_as_sqlalchemy_does(engine: AsyncEngine) -> None:
    """Values in the statement's order, a processor (booleans, JSON) applied only to its
    own column; one column, and columns without a processor, too."""
    values = table_of(HandleValueRow)
    row = value_row(7, "88.118.8/P", HandleValue(3, "URL", b"u", public_read=False))
    prepared = prepared_insert(engine.dialect, values, tuple(row))
    expected = tuple(
        (values.c[name].type._cached_bind_processor(engine.dialect) or (lambda v: v))(row[name])
        for name in prepared.columns)
    assert prepared.params(row) == expected
    assert prepared.params(row)[prepared.columns.index("public_read")] == 0
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", Text))
    one = prepared_insert(engine.dialect, table, ("name",))
    assert one.params({"name": "x", "other": 1}) == ("x",)
    both = prepared_insert(engine.dialect, table, ("name", "id"))
    assert both.params({"name": "x", "id": 2}) == tuple({"name": "x", "id": 2}[c]
                                                         for c in both.columns)


@pytest.mark.parametrize("when", [
    datetime(2026, 12, 7, 17, 30, 24, 576989, tzinfo=UTC),
    datetime(2026, 12, 7, 17, 30, 24, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 12, 8, 1, 30, 24, 5, tzinfo=timezone(timedelta(hours=8))),  # Beijing
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of three digits
    datetime(2026, 6, 1, 12, 0, 0, 1),  # naive: local time, as UTCDateTime takes it
    None,
])
async def test_utc_times_bind_as_sqlalchemy_binds_them(
    engine: AsyncEngine, when: datetime | None
) -> None:
    """A UTC time column binds in one step the text SQLAlchemy's two processors make
    (UTCDateTime's, then SQLite DATETIME's), in a prepared insert and bound alone."""
    handles = table_of(Handle)
    processor = handles.c.created.type._cached_bind_processor(engine.dialect)
    assert processor is not None
    head = {"name": "n", "name_key": "n", "prefix": "p", "version": 1, "created": when,
            "updated": when, "enterprise": None, "image": b""}
    prepared = prepared_insert(engine.dialect, handles, tuple(head))
    params = prepared.params(head)
    assert [params[prepared.columns.index(c)] for c in ("created", "updated")] == [
        processor(when)] * 2
    assert utc_text(when) == processor(when)
    async with engine.begin() as conn:
        assert bind_value(conn, handles, "created", when) == processor(when)


async def test_queued_inserts_store_the_rows_in_order_before_later_statements(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """insert_records_soon: multi-row statements (here 3 rows of 2 parameters each, the
    last one shorter) store the rows executemany stores, in order; a statement issued
    after it, without awaiting it, runs after it in the same transaction."""
    monkeypatch.setattr(sqlite_driver, "MAX_PARAMETERS", 6)
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", Text))
    rows = [(n, f"n{n}") for n in range(1, 9)]
    async with engine.begin() as conn:
        queued = await insert_records_soon(conn, table, ("id", "name"), rows)
        seen = (await conn.execute(text("SELECT id, name FROM t ORDER BY rowid"))).all()
        await queued
    assert [tuple(r) for r in seen] == rows
    assert await _ids(engine) == list(range(1, 9))


async def test_a_failed_queued_insert_fails_its_transaction(engine: AsyncEngine) -> None:
    """The queued insert's error is its future's, and settle raises it as SQLAlchemy's;
    the statements after it still run after it, and the rollback leaves nothing of the
    transaction."""
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", Text))
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (id, name) VALUES (1, 'a')"))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, name) VALUES (2, 'b')"))
            queued = [await insert_records_soon(conn, table, ("id", "name"),
                                                [(3, "c"), (1, "again")]),
                      await insert_records_soon(conn, table, ("id", "name"), [(5, "e")])]
            await conn.execute(text("INSERT INTO t (id, name) VALUES (4, 'd')"))
            await settle(conn, queued)
    assert await _ids(engine) == [1]


def test_multi_row_inserts_use_few_statement_texts_whatever_the_count(tmp_path: Path) -> None:
    """_insert_many: full statements, then the rest in power-of-two statements (largest
    first), so counts that differ from batch to batch reuse the same prepared texts;
    every row is stored once, in order."""
    db = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 20)  # 10 rows of 2 a statement
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    head = "INSERT INTO t (id, name) VALUES "
    stored = 0
    for count in (27, 3, 10, 1, 9, 15, 0):
        rows = [(stored + n + 1, f"n{stored + n + 1}") for n in range(count)]
        statements.clear()
        sqlite_driver._insert_many(db, head, 2, rows)
        sizes = [s.count("),(") + 1 for s in statements if s.startswith("INSERT")]
        assert sum(sizes) == count
        assert sizes == sorted(sizes, reverse=True)
        assert all(size == 10 or size & (size - 1) == 0 for size in sizes)
        stored += count
    assert db.execute("SELECT id, name FROM t ORDER BY rowid").fetchall() == [
        (n, f"n{n}") for n in range(1, stored + 1)]
    db.close()
