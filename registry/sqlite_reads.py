"""Point reads of a SQLite registry on the calling (event loop) thread, with no thread hop.

A resolution that misses every cache reads one handle by its lookup key: an
indexed lookup of one row and its values, 10-50 µs of SQLite work.  Through
aiosqlite that read costs far more on the event loop than in SQLite: a pool
checkout, a hand-off to the connection's thread, a wake-up of the loop, the
check-in (issue 17: 2,411 cold answers/s with 2 workers, most of each worker's
time in that plumbing).  :class:`InlineReader` runs the statement on the
caller's thread instead, on a connection of its own that never writes
(``query_only``) and never waits (``busy_timeout=0``): a statement that would
have to wait for a lock returns None at once and the caller reads on
:class:`ThreadedReader`, whose connections wait as long as any read may.

The trade-off: while the statement runs the loop does nothing else.  For an
indexed point read whose pages are in memory that is shorter than the hand-off
it replaces; a read whose pages must come from the disk would stop the loop for
the disk's latency, where the pooled threads overlap those waits.  So the
reader adds up how long the reads that waited kept the loop waiting: those during
which the thread read blocks from the disk (its ``ru_inblock`` grew) or slept for
anything else, a page another process is reading or writing back, a lock (a
voluntary context switch: its ``ru_nvcsw`` grew).  A read that was merely
preempted (an involuntary switch: the machine's cores were busy) does not count:
the reader first also counted every read that took 2 ms or more, which on a machine
whose cores are busy (a load tool sharing them) is mostly a preempted read, and sent
the next second's reads to the threads: more work where CPU is what is short.  Once
the waits counted reach :data:`DISK_BUDGET` within :data:`DISK_WINDOW` seconds, it steps aside for
:data:`DISK_PAUSE` seconds: meanwhile every read runs on
:class:`ThreadedReader` (a few threads, each with a read-only connection of
its own, one queue hand-off per read: far less than the pool
checkout, aiosqlite queue and check-in of the pooled path, but still a thread
hop, a future and a task per answer), then the loop tries again.  A registry
whose working set is in memory is read on the loop; one that keeps going to
the disk is read on threads.  Stepping aside at the first disk read was too
eager (issue 17): with the page cache trimmed in the background (DAMON
proactive reclaim) about one cold read in 25 went to the disk for ~1 ms, and
each sent the next second's reads, nearly all of them, the dearer way.
Only the resolution path's one-record reads come here; scans and writes keep
their pooled connections.

Each statement is its own snapshot: rows are fetched to the end, so SQLite
ends the read at once (no snapshot is held between statements, nothing older
than the last commit is served).  The connection belongs to the thread (and
process) that opened it; another thread, or a forked child, gets None and takes
the pooled path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import resource
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

DISK_PAUSE = 1.0
"""Seconds the reader steps aside (the reader threads read) once the disk took too long."""
DISK_WINDOW = 1.0
"""Seconds over which the loop's waits for reads that went to the disk are added up."""
DISK_BUDGET = 0.1
"""Seconds of each :data:`DISK_WINDOW` the loop may wait for reads that went to the disk
(0: step aside at the first one)."""


def waits() -> int:
    """How often this thread has waited so far: blocks it read from storage (page cache
    hits do not count) and times it slept (voluntary context switches; being preempted
    is not waiting)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_inblock + usage.ru_nvcsw


def read_only_connection(path: str, *, busy_ms: int) -> sqlite3.Connection:
    """A connection to ``path`` that cannot write and waits at most ``busy_ms`` for a lock."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in (f"busy_timeout={busy_ms}", "query_only=ON"):
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn


class InlineReader:
    """One read-only SQLite connection to ``path``, opened on first use."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self._conn: sqlite3.Connection | None = None
        self._owner = (0, 0)
        self._paused_until = 0.0
        self._window = float("-inf")  # when the current DISK_WINDOW started
        self._waited = 0.0  # seconds of disk reads within it

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """Every row of ``sql`` (raw driver rows), or None when it cannot run here
        without waiting (a lock held, another thread than the opener's, or a pause
        after a read that went to the disk)."""
        if self._paused_until and self.clock() < self._paused_until:
            return None
        conn = self._conn
        if conn is None:
            conn = self._open()
        elif self._owner != (os.getpid(), threading.get_ident()):
            return None  # another thread, or a forked child: never share a connection
        before = waits()
        started = self.clock()
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise
        if waits() > before:
            self._waited_for(started, self.clock())
        return rows

    def _waited_for(self, started: float, now: float) -> None:
        """Count a read from ``started`` to ``now`` that waited; step aside when such
        reads kept the loop waiting :data:`DISK_BUDGET` in the window."""
        if now - self._window >= DISK_WINDOW:
            self._window, self._waited = now, 0.0
        self._waited += now - started
        if self._waited >= DISK_BUDGET:
            self._paused_until = now + DISK_PAUSE
            self._window, self._waited = float("-inf"), 0.0

    def _open(self) -> sqlite3.Connection:
        conn = read_only_connection(self.path, busy_ms=0)
        self._conn, self._owner = conn, (os.getpid(), threading.get_ident())
        return conn

    def close(self) -> None:
        """Close the connection (the next read opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class ThreadedReader:
    """Point reads on ``size`` threads, each with its own read-only connection (opened on
    first use, waiting up to ``busy_ms`` for a lock as the pooled path does).

    A read goes to the threads through a queue and its rows come back through the
    loop's ``call_soon_threadsafe``: written here instead of ``run_in_executor`` because
    the executor's work items, its concurrent future chained to an asyncio one and its
    thread-count check cost about 16 µs of CPU a read against about 6 µs for this hand-off
    (measured on this 2-core machine, 16 reads in flight); a registry whose pages keep
    coming from the disk reads every record this way (issue 17)."""

    def __init__(self, path: str, *, size: int, busy_ms: int) -> None:
        self.path = path
        self.busy_ms = busy_ms
        self.size = max(1, size)
        self._pid = os.getpid()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def rows(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """Every row of ``sql`` read on one of the threads; None in a forked child (the
        threads stayed with the parent) or once closed."""
        if os.getpid() != self._pid or self._closed:
            return None
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._jobs.put((loop, future, sql, params))
        return await future

    def _start(self) -> None:
        for n in range(self.size):
            thread = threading.Thread(target=self._work, name=f"idnode-sqlite-read-{n}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        """A reader thread: read what comes until told to stop (None)."""
        conn: sqlite3.Connection | None = None
        while (job := self._jobs.get()) is not None:
            loop, future, sql, params = job
            try:
                if conn is None:
                    conn = read_only_connection(self.path, busy_ms=self.busy_ms)
                    with self._lock:
                        self._opened.append(conn)
                outcome: list[Any] | BaseException = conn.execute(sql, params).fetchall()
            except Exception as exc:  # the reader's to raise
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

    def close(self) -> None:
        """Stop the threads (after the reads running now) and close their connections."""
        self._closed = True
        threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[list[Any]]", str, tuple[Any, ...]]


def _settle(future: asyncio.Future[list[Any]], outcome: list[Any] | BaseException) -> None:
    """On the loop: give the waiting read its rows or its error (unless it was cancelled)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
