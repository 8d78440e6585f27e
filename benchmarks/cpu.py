"""CPU time the server side spends on a benchmark run, read from ``/proc`` (Linux).

A machine shared with other work shifts throughput from run to run; the CPU
the server spends per answer shifts far less, so it is the figure to compare
before and after a change.  :func:`tree_seconds` adds up user and system time
of a process and every live descendant (the node's workers); for a node on
PostgreSQL, :func:`backend_seconds` adds the database's own server processes
that serve its scratch database (their process title names it, after the
cluster name when one is set), so a change
that moves work into the database does not look free.  Both read only
``/proc/<pid>/stat`` and ``/proc/<pid>/cmdline``; a process that exits
between two reads simply stops counting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

Probe = Callable[[], float]


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of ``pid``; None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parens
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def tree_seconds(root: int) -> float:
    """CPU seconds spent so far by ``root`` and its live descendants."""
    stats = {pid: s for pid in _pids() if (s := _stat(pid)) is not None}
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


def backend_seconds(database: str) -> float:
    """CPU seconds spent so far by the live PostgreSQL backends serving ``database``
    (process title ``postgres: USER DATABASE HOST ...``)."""
    total = 0.0
    for pid in _pids():
        try:
            title = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        # a cluster name, when set, comes first: ``postgres: 15/main: USER DATABASE ...``
        if title[:1] == [b"postgres:"] and database.encode() in title[2:4]:
            stat = _stat(pid)
            total += stat[1] if stat is not None else 0.0
    return total


def available() -> bool:
    """Whether this machine has ``/proc`` to read."""
    return (PROC / "self" / "stat").exists()
