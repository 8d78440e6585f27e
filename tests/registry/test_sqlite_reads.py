"""SQLite point reads on the event loop thread: no trip to aiosqlite's thread, every
commit seen by the next read, and the pooled path whenever SQLite would make it wait."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from protocol.values import HandleValue
from registry import sqlite_reads
from registry.sqlite_reads import InlineReader, ThreadedReader
from registry.store import HandleStore

NAME = "88.118.8/TV-0001"


def url(text: str) -> HandleValue:
    return HandleValue(1, "URL", text.encode())


async def test_a_point_read_makes_no_trip_and_sees_each_commit(
    tmp_path: Path, trips: list[str]
) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    other = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}", migrate=False)
    try:
        created = await store.create_handle(NAME, [url("https://a.test")], actor="t")
        trips.clear()
        before = store.query_count
        assert await store.get_handle(NAME, replica=True) == created
        assert await store.get_handle("88.118.8/absent") is None
        assert (trips, store.query_count - before) == ([], 2)
        # a write by another process's store is seen by the very next read
        await other.modify_values(NAME, [url("https://b.test")], actor="t")
        again = await store.get_handle(NAME)
        assert again is not None and again.values[0].data == b"https://b.test"
        await other.delete_handle(NAME, actor="t")
        assert await store.get_handle(NAME) is None
    finally:
        await other.close()
        await store.close()


async def test_a_read_now_is_the_read_or_says_it_would_wait(tmp_path: Path) -> None:
    """``get_handle_now``: the record :meth:`get_handle` reads (or that there is none),
    read on this thread; (False, None) where a read could not run here and now."""
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        created = await store.create_handle(
            NAME, [url("https://a.test"), HandleValue(2, "EMAIL", b"x", public_read=False)],
            actor="t")
        assert created == await store.get_handle(NAME)
        before = store.query_count
        assert store.get_handle_now(NAME) == (True, created)
        assert store.get_handle_now(NAME.lower()) == (True, created)
        assert store.get_handle_now("88.118.8/absent") == (True, None)
        assert store.query_count - before == 3
        async with store.transaction():  # a transaction's reads stay on its connection
            assert store.get_handle_now(NAME) == (False, None)
        assert store._inline is not None
        store._inline._paused_until = float("inf")  # stepping aside after a disk read
        assert store.get_handle_now(NAME) == (False, None)
    finally:
        await store.close()


async def test_inside_a_transaction_reads_stay_on_its_connection(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        async with store.transaction():
            await store.create_handle(NAME, [url("https://a.test")], actor="t")
            # not committed yet: only the transaction's own connection sees it
            assert await store.get_handle(NAME) is not None
        assert await store.get_handle(NAME) is not None
    finally:
        await store.close()


def test_a_locked_database_or_another_thread_gets_none(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    # a rollback-journal database: a writer's exclusive lock keeps readers out
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    setup.execute("INSERT INTO t VALUES ('a', 'one')")
    reader = InlineReader(path)
    try:
        assert reader.rows("SELECT v FROM t WHERE k = ?", ("a",)) == [("one",)]
        setup.execute("BEGIN EXCLUSIVE")
        setup.execute("UPDATE t SET v = 'two'")
        assert reader.rows("SELECT v FROM t WHERE k = ?", ("a",)) is None  # no waiting
        setup.execute("COMMIT")
        assert reader.rows("SELECT v FROM t WHERE k = ?", ("a",)) == [("two",)]
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|query_only|attempt"):
            reader.rows("UPDATE t SET v = 'three'", ())
        elsewhere = asyncio.run(asyncio.to_thread(reader.rows, "SELECT v FROM t", ()))
        assert elsewhere is None
    finally:
        reader.close()
        setup.close()


def test_reads_that_keep_the_loop_waiting_for_the_disk_make_the_reader_step_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that waited (read blocks from the disk or slept) is answered; once such
    reads kept the loop waiting DISK_BUDGET within DISK_WINDOW, the reader steps aside
    for DISK_PAUSE.  A read that only took long (the thread was preempted) never counts."""
    path = str(tmp_path / "disk.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    setup.execute("INSERT INTO t VALUES ('a', 'one')")
    now = 100.0
    reader = InlineReader(path, clock=lambda: now)
    waited = [False]  # whether the next read waits (the disk, a sleep)
    long = [False]  # whether it takes budget/2 without waiting (preempted)
    count = itertools.count()
    waits = 0
    budget = 0.125  # exact in binary, as are the clock's steps
    monkeypatch.setattr(sqlite_reads, "DISK_BUDGET", budget)

    def waits_so_far() -> int:  # called before and after each read: a slow one takes budget/2
        nonlocal now, waits
        if next(count) % 2 and (waited[0] or long[0]):
            now += budget / 2
            waits += 8 if waited[0] else 0
        return waits

    monkeypatch.setattr(sqlite_reads, "waits", waits_so_far)
    query = ("SELECT v FROM t WHERE k = ?", ("a",))

    def read(waits: bool, preempted: bool = False) -> list[tuple[str]] | None:
        waited[0], long[0] = waits, preempted
        return reader.rows(*query)

    try:
        assert read(False) == [("one",)]
        assert read(True) == [("one",)]  # half the budget: the loop keeps reading
        now += sqlite_reads.DISK_WINDOW  # a new window: the earlier wait no longer counts
        assert read(True) == [("one",)]
        assert read(False) == [("one",)]
        assert read(True) == [("one",)]  # the whole budget: answered, then steps aside
        assert read(False) is None
        now += sqlite_reads.DISK_PAUSE
        assert read(False) == [("one",)]
        assert read(True) == [("one",)]  # the pause started a new window
        assert read(False) == [("one",)]
        now += sqlite_reads.DISK_PAUSE
        for _ in range(4):  # long, but only preempted: never counted
            assert read(False, preempted=True) == [("one",)]
        assert read(True) == [("one",)]
        assert read(True) == [("one",)]
        assert read(False) is None
    finally:
        reader.close()
        setup.close()


def test_a_read_of_pages_in_memory_does_not_wait(tmp_path: Path) -> None:
    """What the reader counts as waiting stays still over reads of cached pages (a
    thread that sleeps or reads from storage makes it grow)."""
    path = str(tmp_path / "mem.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    setup.executemany("INSERT INTO t VALUES (?, ?)", [(str(i), "v" * 50) for i in range(500)])
    reader = InlineReader(path)
    try:
        for i in range(500):  # every page in memory now
            reader.rows("SELECT v FROM t WHERE k = ?", (str(i),))
        before = sqlite_reads.waits()
        for i in range(500):
            assert reader.rows("SELECT v FROM t WHERE k = ?", (str(i),)) == [("v" * 50,)]
        assert sqlite_reads.waits() == before
        time.sleep(0.01)
        assert sqlite_reads.waits() > before
    finally:
        reader.close()
        setup.close()


async def test_while_reads_go_to_the_disk_they_run_on_the_reader_threads(
    tmp_path: Path, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        created = await store.create_handle(NAME, [url("https://a.test")], actor="t")
        counter = itertools.count()
        monkeypatch.setattr(sqlite_reads, "waits", lambda: next(counter))  # disk each time
        monkeypatch.setattr(sqlite_reads, "DISK_BUDGET", 0.0)  # and the first one is too long
        trips.clear()
        before = store.query_count
        for _ in range(3):  # on the loop (it went to the disk), then on the reader threads
            assert await store.get_handle(NAME) == created
        assert await store.get_handle("88.118.8/absent") is None
        assert (trips, store.query_count - before) == ([], 4)
        assert store._threaded is not None and len(store._threaded._opened) >= 1
    finally:
        await store.close()


async def test_the_reader_threads_give_rows_errors_and_cancellations_back(
    tmp_path: Path,
) -> None:
    """Reads handed to the threads come back with their rows, several waiting at once;
    a failing statement raises its own error in the caller; a read whose caller gave up
    is dropped without harm; a closed reader stops its threads and reads nothing more."""
    path = tmp_path / "reads.db"
    setup = sqlite3.connect(path)
    setup.executescript("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);")
    setup.close()
    reader = ThreadedReader(str(path), size=3, busy_ms=100)
    try:
        results = await asyncio.gather(*(
            reader.rows("SELECT n, ? FROM t WHERE n >= ? ORDER BY n", (k, k))
            for k in range(1, 4)))
        assert results == [[(1, 1), (2, 1), (3, 1)], [(2, 2), (3, 2)], [(3, 3)]]
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await reader.rows("SELECT * FROM missing", ())
        slow = asyncio.create_task(reader.rows(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)"
            " SELECT count(*) FROM c", ()))
        await asyncio.sleep(0)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await reader.rows("SELECT count(*) FROM t", ()) == [(3,)]
        assert len({t.name for t in reader._threads}) == 3
    finally:
        reader.close()
    assert reader._threads == [] and reader._opened == []
    assert await reader.rows("SELECT 1", ()) is None
