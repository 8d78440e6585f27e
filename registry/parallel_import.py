"""An import of a CSV or JSON Lines file split across processes, one share of its handles each.

One importing process is bound by Python's global interpreter lock: reading the
records, checking them against their templates and laying out their rows take a
core, and SQLite, which lets go of the lock while it stores a batch, has little to
overlap with (issue 17: ~6,000 demo records a second on one core of two).  Here
``shares`` processes, forked from the command before any of them opens the
database, each read the whole file and take the records whose handle's name key
hashes to their number (:class:`registry.importer.Share`: every record of a handle
goes to the same process, in the file's order).  Each makes its next batch ready
(:meth:`HandleStore.prepare_bulk`, no write lock) while another stores one; the
stores take turns through a lock of the processes (a semaphore, so the next one
starts as soon as the last commits, not when SQLite's busy wait next looks).

Resuming: each share has its own job, ``JOB/N.S`` (share N of S), created at the
file job's checkpoint and moved by each batch the share commits, so an interrupted
run resumes every share where it stopped; a file whose shares exist is always
imported again in that many shares (else a record could be stored by two).  The
file's job is finished (at its last row) once every share is.  Each share writes
the rows it rejects to ``REPORT.N.S``; they are merged into the report, in row
order, when the import ends (a crash before that leaves the parts, merged by the
next run).  A record's outcome is the one a single process gives when no handle
is repeated in the file; a handle that is, is handled in its share in order, as in
one process, batch boundaries aside.

Forking is Linux's and macOS's (``multiprocessing``'s ``fork`` start method); without
it the import runs in one process.  The file's job and the report merge run in the
parent, each in an event loop of its own, so that no thread and no open database
runs in it when it forks.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from registry.errors import StoreError
from registry.importer import (
    DEFAULT_BATCH_ROWS,
    REPORT_HEADER,
    ImportSummary,
    Share,
    SourceInfo,
    import_batches,
    import_file,
    open_job,
)
from registry.store import HandleStore

#: most processes an import runs: SQLite stores one batch at a time, and beyond a few
#: processes the next batch is ready before the last is stored
MAX_SHARES = 4
#: fewest rows of a file a process is forked for
MIN_SHARE_ROWS = 1000
#: a share's first batch is this part of the others, and each next one twice the last
#: until they are whole: no share holds the write lock while every share makes its
#: first batch ready, so that one is small, and the next is ready about when the other
#: shares have stored theirs
FIRST_BATCH_PART = 5
#: a share's batch is at most this part of the rows it has left (but
#: :data:`MIN_TAIL_ROWS`): the share that stores the file's last batch does so alone, so
#: the last batches are small (and not tiny: each batch costs ~8 ms of its own)
TAIL_PART = 2
MIN_TAIL_ROWS = 1000


@dataclass(frozen=True)
class ShareBatches:
    """How many rows the batches of one of ``shares`` processes importing a file of
    ``rows_total`` rows hold (:data:`registry.importer.BatchLimit`): growing from a
    :data:`FIRST_BATCH_PART` of ``batch_rows`` to all of it, and near the end of the
    file a :data:`TAIL_PART` of the rows the share has left (its part of the rows from
    the batch's first on).  Measured on two cores (issue 17, 9,144 demo records, median
    of five alternating runs): 7,670/s with whole batches after a first of a quarter,
    8,320/s so; a first of a tenth or a twentieth was no better (the first batch also
    pays for what the process sets up: ~40 ms)."""

    batch_rows: int
    rows_total: int
    shares: int

    def __call__(self, batches_before: int, row: int) -> int:
        growing = max(1, self.batch_rows // FIRST_BATCH_PART) << min(batches_before, 30)
        tail = max(MIN_TAIL_ROWS, (self.rows_total - row + 1) // (self.shares * TAIL_PART))
        return min(self.batch_rows, growing, tail)


OpenStore = Callable[[], AbstractAsyncContextManager[HandleStore]]
Progress = Callable[[int, int], None]


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether processes can be forked here (``multiprocessing``'s ``fork`` method)."""
    return "fork" in multiprocessing.get_all_start_methods()


def share_report(report: Path, share: Share) -> Path:
    """Where ``share`` writes the rows it rejects: ``REPORT.N.S``."""
    return report.with_name(f"{report.name}.{share.label}")


@dataclass(slots=True)
class _Plan:
    """What the parent learned before forking."""

    source: SourceInfo
    summary: ImportSummary
    shares: int
    #: the row each share resumes after, by share number
    starts: list[int]
    #: no run of this file's job committed anything before: earlier report parts are
    #: another job's
    fresh: bool = True


async def _plan(open_store: OpenStore, path: Path, fmt: str, report_path: Path | None,
                shares: int) -> _Plan:
    """Open the file's job and its shares' (their count from an earlier run if it left
    any, else ``shares``), each share's job created at the file job's checkpoint."""
    async with open_store() as store:
        source, summary = await open_job(store, path, fmt, report_path)
        if summary.already_done:
            return _Plan(source, summary, 0, [])
        found = await store.import_jobs_under(source.job_id)
        if found:
            shares = Share.count_in(found[0].job_id)
        else:
            shares = max(1, min(shares, (source.rows - summary.resumed_from) // MIN_SHARE_ROWS))
        if shares == 1:
            return _Plan(source, summary, 1, [])
        starts = []
        for number in range(shares):
            job = await store.start_import_job(
                Share(number, shares).job_id(source.job_id), source.digest,
                rows_done=summary.resumed_from)
            starts.append(job.rows_done)
    fresh = not found and summary.resumed_from == 0
    summary.resumed_from = min(starts)
    summary.rows_done = summary.resumed_from
    return _Plan(source, summary, shares, starts, fresh)


@contextlib.asynccontextmanager
async def _turn(lock: Any) -> AsyncIterator[None]:
    """Hold the processes' write lock (waited for on a thread: the loop stays free)."""
    await asyncio.to_thread(lock.acquire)
    try:
        yield
    finally:
        lock.release()


async def _import_share(open_store: OpenStore, plan: _Plan, share: Share, lock: Any,
                        tell: Connection, *, batch_rows: int, overwrite: bool,
                        actor: str) -> ImportSummary:
    """Import ``share`` of the file: its records after its checkpoint, a batch at a time,
    each stored in the processes' turn; its position sent to ``tell`` after each."""
    source = plan.source
    start = plan.starts[share.number]
    job_id = share.job_id(source.job_id)
    report_path = share_report(Path(plan.summary.report), share)
    summary = ImportSummary(job_id, str(source.path), source.format, source.rows,
                            resumed_from=start, rows_done=start, report=str(report_path))
    cpu_started = time.process_time()
    async with open_store() as store:
        await import_batches(
            store, source, summary, report_path=report_path, resuming=not plan.fresh,
            share=share, batch_rows=batch_rows,
            batch_limit=ShareBatches(batch_rows, source.rows, share.of),
            overwrite=overwrite, actor=actor, hold=lambda: _turn(lock),
            after_batch=lambda: tell.send(("at", share.number, summary.rows_done)))
    summary.cpu_seconds = time.process_time() - cpu_started
    return summary


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent ends (Linux's
    ``PR_SET_PDEATHSIG``, through the C library: Python has no call for it), and end it
    now if the parent has ended already: a share left running after ``kill -9`` of the
    command could commit a batch while the command, run again, imports the same
    records (they would be rejected as existing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _run_share(open_store: OpenStore, plan: _Plan, share: Share, lock: Any,
               tell: Connection, options: dict[str, Any], parent: int) -> None:
    """The body of a share's process: its import, then its summary (or its error) sent."""
    _die_with(parent)
    try:
        summary = asyncio.run(_import_share(open_store, plan, share, lock, tell, **options))
    except BaseException as exc:  # every failure is the parent's to report
        tell.send(("failed", share.number, _failure(exc)))
        raise SystemExit(1) from None
    tell.send(("done", share.number, summary))


def _failure(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _wait_for_shares(processes: list[Any], heard: list[Connection], plan: _Plan,
                     on_progress: Progress | None) -> list[ImportSummary]:
    """Follow the shares until every one has ended: their positions to ``on_progress``
    (the file's progress is the least of them), their summaries; raise
    :class:`StoreError` naming the first that failed."""
    positions = list(plan.starts)
    results: dict[int, ImportSummary] = {}
    failures: dict[int, str] = {}
    open_ends = {id(conn): (number, conn) for number, conn in enumerate(heard)}
    while open_ends:
        for ready in wait([conn for _number, conn in open_ends.values()]):
            number, conn = open_ends[id(ready)]
            try:
                message: tuple[str, int, Any] = conn.recv()
            except EOFError:  # the process ended without a word (killed)
                del open_ends[id(ready)]
                processes[number].join()
                if number not in results:
                    failures.setdefault(number, "ended with exit code "
                                        f"{processes[number].exitcode}")
                continue
            kind, _number, payload = message
            if kind == "at":
                positions[number] = payload
                if on_progress:
                    on_progress(min(positions), plan.source.rows)
            elif kind == "done":
                results[number] = payload
            else:
                failures[number] = payload
    for process in processes:
        process.join()
    if failures:
        number = min(failures)
        raise StoreError(f"import of {plan.source.path}, share {number + 1} of {plan.shares}: "
                         f"{failures[number]} (run the same command again to resume)")
    return [results[number] for number in range(plan.shares)]


def merge_reports(report: Path, shares: int, *, resumed: bool) -> None:
    """Merge the shares' parts of ``report`` into it, in row order (with the rows it
    holds already when ``resumed``: an earlier run of the job wrote them, in one
    process or in a merge before a crash), then remove them."""
    parts = [share_report(report, Share(number, shares)) for number in range(shares)]
    rows: list[tuple[int, str, str]] = []
    for path in ([report] if resumed and report.exists() else []) + parts:
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            for line in csv.reader(handle):
                if line and line[0].isdigit() and len(line) == len(REPORT_HEADER):
                    rows.append((int(line[0]), line[1], line[2]))
    # (a merge cut short after its report replaced the old one finds its rows twice)
    rows = sorted(set(rows), key=lambda row: row[0])
    temporary = report.with_name(report.name + ".merging")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(REPORT_HEADER)
        out.writerows(rows)
    temporary.replace(report)
    for path in parts:
        path.unlink(missing_ok=True)


async def _import_here(open_store: OpenStore, plan: _Plan, **options: Any) -> ImportSummary:
    """The import in this process (:func:`registry.importer.import_file`)."""
    async with open_store() as store:
        return await import_file(store, plan.source.path, fmt=plan.source.format,
                                 report_path=Path(plan.summary.report), source=plan.source,
                                 **options)


async def _finish(open_store: OpenStore, plan: _Plan) -> None:
    async with open_store() as store:
        for number in range(plan.shares):
            await store.finish_import_job(Share(number, plan.shares).job_id(plan.source.job_id))
        await store.finish_import_job(plan.source.job_id, rows_done=plan.source.rows)


def import_in_parallel(
    open_store: OpenStore,
    path: Path,
    *,
    fmt: str,
    shares: int,
    report_path: Path | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    overwrite: bool = False,
    actor: str = "import",
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Import ``path`` in up to ``shares`` processes (see the module docstring; the
    options are :func:`registry.importer.import_file`'s, ``batch_rows`` a share's): as
    many as an interrupted run of it had, else ``shares`` but one for every
    :data:`MIN_SHARE_ROWS` rows left (one: :func:`import_file`, in this process).  Call
    it with no event loop running: it forks."""
    plan = asyncio.run(_plan(open_store, path, fmt, report_path, shares))
    summary = plan.summary
    if summary.already_done:
        return summary
    if plan.shares == 1:
        return asyncio.run(_import_here(open_store, plan, batch_rows=batch_rows,
                                        overwrite=overwrite, actor=actor,
                                        on_progress=on_progress))
    started = time.monotonic()
    cpu_started = time.process_time()
    if on_progress:
        on_progress(summary.rows_done, plan.source.rows)
    forking = multiprocessing.get_context("fork")
    lock = forking.Lock()
    processes, heard = [], []
    options = {"batch_rows": batch_rows, "overwrite": overwrite, "actor": actor}
    for number in range(plan.shares):
        hear, tell = forking.Pipe(duplex=False)
        process = forking.Process(
            target=_run_share, name=f"idnode-import-{Share(number, plan.shares).label}",
            args=(open_store, plan, Share(number, plan.shares), lock, tell, options,
                  os.getpid()))
        process.start()
        tell.close()
        processes.append(process)
        heard.append(hear)
    results = _wait_for_shares(processes, heard, plan, on_progress)
    merge_reports(Path(summary.report), plan.shares, resumed=not plan.fresh)
    asyncio.run(_finish(open_store, plan))
    summary.processes = plan.shares
    summary.rows_done = plan.source.rows
    summary.inserted = sum(r.inserted for r in results)
    summary.replaced = sum(r.replaced for r in results)
    summary.rejected = sum(r.rejected for r in results)
    summary.seconds = time.monotonic() - started
    summary.cpu_seconds = (time.process_time() - cpu_started
                           + sum(r.cpu_seconds for r in results))
    if on_progress:
        on_progress(summary.rows_done, plan.source.rows)
    return summary
