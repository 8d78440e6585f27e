"""Server CPU for the benchmark table: a process tree's CPU seconds include its children's."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from benchmarks import cpu

SPIN = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_tree_seconds_counts_live_children() -> None:
    assert cpu.available()
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, '-c', {SPIN!r} + 'time.sleep(30)'])\n"
        "sys.stdout.write(str(child.pid) + '\\n'); sys.stdout.flush()\n"
        "child.wait()\n"
    )], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 60
        while cpu.tree_seconds(child) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        own = cpu.tree_seconds(child)
        assert own >= 0.5
        assert cpu.tree_seconds(parent.pid) >= own  # the parent's tree holds the child
        assert cpu.backend_seconds("no_such_database_here") == 0.0
    finally:
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_backend_seconds_finds_the_database_backends(postgres_server: str) -> None:
    import psycopg

    with psycopg.connect(postgres_server, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        assert cpu.backend_seconds(database[0]) > 0.0
