"""WAL checkpoints in the background (registry.sqlite_checkpoints)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from protocol.values import HandleValue
from registry.sqlite_checkpoints import BackgroundCheckpoints
from registry.store import HandleStore

VALUE = HandleValue(1, "URL", b"https://example.test")


def in_database_file(path: Path, name: str) -> bool:
    """Whether the database file itself (not its WAL) holds handle ``name``."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)  # reads no WAL
    try:
        return conn.execute("SELECT 1 FROM handles WHERE name = ?", (name,)).fetchone() is not None
    except sqlite3.OperationalError:  # not even the table yet: the schema is in the WAL
        return False
    finally:
        conn.close()


async def eventually(check: object, seconds: float = 20.0) -> bool:
    """Whether ``check()`` came true within ``seconds`` (asked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return bool(check())  # type: ignore[operator]


async def test_a_write_reaches_the_database_file_a_moment_later(tmp_path: Path) -> None:
    """A create commits to the WAL only (the writers' own checkpoint is far off); the
    background checkpoint puts it in the database file without another write, once for
    the writes of that moment, and none runs while nothing is written."""
    path = tmp_path / "registry.db"
    store = await HandleStore.open(f"sqlite:///{path}")
    checkpoints = store._checkpoints
    assert checkpoints is not None
    checkpoints.after = 0.05
    try:
        runs = checkpoints.runs
        for i in range(3):
            await store.create_handle(f"88.118.8/a{i}", [VALUE], actor="t")
        assert not in_database_file(path, "88.118.8/a2")
        assert await eventually(lambda: in_database_file(path, "88.118.8/a2"))
        assert await eventually(lambda: checkpoints.runs > runs)
        assert checkpoints.last is not None and checkpoints.last[0] == 0  # not busy
        done = checkpoints.runs
        await asyncio.sleep(0.3)
        assert checkpoints.runs == done  # nothing written: no checkpoint
        assert (await store.verify_audit()).ok
    finally:
        await store.close()
    assert checkpoints._thread is None


async def test_checkpoints_stop_with_their_store_and_start_again(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    checkpoints = BackgroundCheckpoints(str(path), after=0.01)
    sqlite3.connect(path).close()
    checkpoints.written()
    thread = checkpoints._thread
    assert thread is not None and thread.is_alive()
    checkpoints.close()
    assert not thread.is_alive() and checkpoints._thread is None
    checkpoints.written()  # a store used again after its close: a new thread
    assert checkpoints._thread is not None and checkpoints._thread.is_alive()
    assert await eventually(lambda: checkpoints.runs == 1)
    checkpoints.close()


async def test_a_failing_hook_after_commit_leaves_the_write_committed(tmp_path: Path) -> None:
    """The held writer's after-commit hook runs once the commit succeeded: what it raises
    reaches the caller as itself, and the write it followed stays committed."""
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    writer = store._writer
    assert writer is not None

    def broken() -> None:
        raise RuntimeError("no thread")

    writer.after_commit = broken
    try:
        try:
            await store.create_handle("88.118.8/kept", [VALUE], actor="t")
        except RuntimeError as exc:
            assert str(exc) == "no thread"
        else:
            raise AssertionError("the hook's error was swallowed")
        assert await store.get_handle("88.118.8/kept") is not None
        assert (await store.verify_audit()).ok
    finally:
        writer.after_commit = None
        await store.close()


def test_a_close_that_comes_as_the_thread_wakes_for_a_write_still_stops_it(
        tmp_path: Path) -> None:
    """close() sets stop, then written; the thread, woken by a write's timer, clears
    written.  When close's two calls fall right before that clear the thread must still
    stop (it once cleared close's wake-up, checkpointed and waited for a next write that
    never came: close() waited for ever and an import's process hung at its end)."""
    path = tmp_path / "registry.db"
    sqlite3.connect(path).close()
    checkpoints = BackgroundCheckpoints(str(path), after=0.01)
    stop = threading.Event()

    class CloseArrivesJustBeforeClear(threading.Event):
        def clear(self) -> None:
            stop.set()  # what close() does, in its order
            self.set()
            super().clear()

    written = CloseArrivesJustBeforeClear()
    written.set()  # a write committed
    thread = threading.Thread(target=checkpoints._run, args=(written, stop), daemon=True)
    thread.start()
    thread.join(5.0)
    assert not thread.is_alive(), "the checkpoint thread waits although it was stopped"
    assert checkpoints.runs <= 1
