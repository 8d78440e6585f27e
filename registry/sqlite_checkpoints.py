"""WAL checkpoints of a SQLite store on a thread of their own, a moment after writes.

In WAL mode with ``synchronous=NORMAL`` a commit appends its pages to the log and
returns; the log is synced, and its pages copied into the database file and that file
synced, by a checkpoint.  SQLite runs one in the commit that finds the log holding
``wal_autocheckpoint`` pages: two fsyncs and a copy of every page changed since
(~4 ms here for ~800 log pages), which the write that happened to cross the mark waited
for, with its client (a create every ~90 on a node's store).  And until a checkpoint
came, nothing written since the last one was on disk for sure: a power cut could take
back an hour's writes of a quiet node, whose log never reached the mark.

:class:`BackgroundCheckpoints` runs a ``PASSIVE`` checkpoint on its own connection and
thread :data:`CHECKPOINT_AFTER` seconds after a write committed (one for all the writes
of that moment, none while nothing is written): it neither takes the write lock nor
waits for one, so writers go on meanwhile, and what was committed is in the database
file, synced, a moment later.  The writers' own auto-checkpoint
(:data:`registry.db.SQLITE_WAL_AUTOCHECKPOINT`) stays as the bound of the log: under
writes that never pause the log is not restarted by these (a writer restarts it when it
begins with every page copied), and the writer's checkpoint then finds most of its pages
copied already (so checkpoints in commits, and what they wait for, are not fewer:
this is for what a power cut can take, not for speed).  Written here because neither
SQLite nor sqlite3 offers a checkpoint on a timer; the thread is started by the first
write of a process (a forked worker starts its own).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

#: seconds from a committed write to the checkpoint that puts it in the database file
CHECKPOINT_AFTER = 1.0


class BackgroundCheckpoints:
    """``PASSIVE`` WAL checkpoints of the database at ``path`` a moment after writes."""

    def __init__(self, path: str, *, after: float = CHECKPOINT_AFTER) -> None:
        self.path, self.after = path, after
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        #: checkpoints run, and the last one's (busy, log pages, pages checkpointed)
        self.runs = 0
        self.last: tuple[int, int, int] | None = None

    def written(self) -> None:
        """A write committed: a checkpoint follows within :attr:`after` seconds."""
        if self._pid != os.getpid():  # the first write of this process
            self._start()
        self._written.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._written, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="idnode-wal-checkpoints",
                                        args=(self._written, self._stop), daemon=True)
        self._thread.start()

    def _run(self, written: threading.Event, stop: threading.Event) -> None:
        conn: sqlite3.Connection | None = None
        try:
            # stop is asked for again after each checkpoint: close() sets stop, then
            # written, and a clear below that follows close's set eats the wake-up
            while not stop.is_set():
                written.wait()
                if stop.wait(self.after):  # the writes of that moment, then one checkpoint
                    return
                written.clear()
                if conn is None:
                    conn = sqlite3.connect(self.path, isolation_level=None,
                                           check_same_thread=False)
                    conn.execute("PRAGMA busy_timeout=0")  # another checkpoint: next time
                self._checkpoint(conn)
        finally:
            if conn is not None:
                conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # busy, or the file is gone: the writers' bound holds
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            return
        self.runs += 1
        self.last = (int(row[0]), int(row[1]), int(row[2]))

    def close(self) -> None:
        """Stop the thread (a write's checkpoint not run yet is the next writer's)."""
        thread, self._thread = self._thread, None
        if thread is not None and self._pid == os.getpid():
            self._stop.set()
            self._written.set()
            thread.join()
        self._pid = 0
