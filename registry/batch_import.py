"""``idnode import --format batch``: run a CNRI batch file (:mod:`registry.batchfile`) against
the registry, resumable and reported like the CSV and JSON Lines import.

Runs of consecutive CREATE blocks are stored like imported records
(:meth:`HandleStore.bulk_put`, about ``batch_rows`` lines per transaction;
an existing handle is rejected unless ``overwrite``, as CNRI's create fails).
Every other operation is one transaction with its checkpoint: ADD (a value at
an index already used is rejected), MODIFY, REMOVE, DELETE, and HOME/UNHOME of
each listed ``0.NA/`` prefix (:mod:`registry.homing`; the server line is not
used, this node is the server).  AUTHENTICATE and SESSIONSETUP blocks are
skipped: the operator's import needs no identity.  Rows are line numbers; the
job's checkpoint is the last line of the last operation done, so a second run
of the same file (same SHA-256) goes on after it.  Rejected operations go to
the CSV report ``row,handle,reason``; operations other than CREATE that
succeed are counted as ``replaced`` (records changed).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Unpack

from registry import homing
from registry.batchfile import BatchOp, read_batch
from registry.collector import few_collections
from registry.errors import StoreError
from registry.importer import (
    DEFAULT_BATCH_ROWS,
    ImportOptions,
    ImportSummary,
    Item,
    import_batch_items,
    open_job,
    open_report,
)
from registry.store import HandleStore

FORMAT = "batch"


def _runs(ops: Iterator[BatchOp], batch_rows: int) -> Iterator[list[BatchOp]]:
    """Groups to commit together: CREATE runs of about ``batch_rows`` lines, others alone."""
    run: list[BatchOp] = []
    for op in ops:
        if op.kind == "CREATE":
            run.append(op)
            if op.end - run[0].row + 1 >= batch_rows:
                yield run
                run = []
            continue
        if run:
            yield run
            run = []
        yield [op]
    if run:
        yield run


async def import_batch(
    store: HandleStore, path: Path, **options: Unpack[ImportOptions]
) -> ImportSummary:
    """Apply batch file ``path`` to ``store``, resuming an interrupted run of it
    (the options are :func:`registry.importer.import_file`'s, without ``fmt``)."""
    on_progress = options.get("on_progress")
    actor = options.get("actor", "import")
    source, summary = await open_job(store, path, FORMAT, options.get("report_path"))
    if summary.already_done:
        return summary
    started, cpu_started = time.monotonic(), time.process_time()
    skip = summary.resumed_from
    ops = (op for op in read_batch(_text(path), path.parent) if op.row > skip)
    with open_report(Path(summary.report), skip > 0) as report, few_collections():
        writer = csv.writer(report)
        if on_progress:
            on_progress(summary.rows_done, source.rows)
        for run in _runs(ops, options.get("batch_rows", DEFAULT_BATCH_ROWS)):
            if run[0].kind == "CREATE":
                items = [Item(op.row, op.end, op.handle, op.values, op.error) for op in run]
                await import_batch_items(store, items, summary, writer, actor,
                                         options.get("overwrite", False))
            else:
                await _apply(store, run[0], summary, writer, actor)
            report.flush()
            if on_progress:
                on_progress(summary.rows_done, source.rows)
    await store.finish_import_job(source.job_id)
    summary.rows_done = source.rows
    summary.seconds = time.monotonic() - started
    summary.cpu_seconds = time.process_time() - cpu_started
    return summary


def _text(path: Path) -> str:
    return path.read_text("utf-8")


async def _apply(
    store: HandleStore, op: BatchOp, summary: ImportSummary, writer: Any, actor: str
) -> None:
    """One non-CREATE operation and its checkpoint in one transaction; a refusal is
    reported and only the checkpoint moves."""
    problem = op.error
    if problem is None:
        try:
            async with store.transaction():
                await _run(store, op, actor)
                await _checkpoint(store, summary, op, actor)
        except (StoreError, ValueError) as exc:
            problem = str(exc)
        else:
            summary.replaced += 1
    if problem is not None:
        await _checkpoint(store, summary, op, actor)
        writer.writerow((op.row, op.handle, f"{op.kind}: {problem}"))
        summary.rejected += 1
    summary.rows_done = op.end


async def _checkpoint(store: HandleStore, summary: ImportSummary, op: BatchOp, actor: str) -> None:
    """Move the job past ``op`` (an empty bulk put carries the checkpoint)."""
    await store.bulk_put([], actor=actor, job_id=summary.job_id, job_position=op.end)


async def _run(store: HandleStore, op: BatchOp, actor: str) -> None:
    if op.kind == "ADD":
        await store.add_values(op.handle, op.values, actor=actor)
    elif op.kind == "MODIFY":
        await store.modify_values(op.handle, op.values, actor=actor)
    elif op.kind == "REMOVE":
        await store.remove_values(op.handle, op.indexes, actor=actor)
    elif op.kind == "DELETE":
        await store.delete_handle(op.handle, actor=actor)
    else:  # HOME / UNHOME
        act = homing.home if op.kind == "HOME" else homing.unhome
        for handle in op.prefixes:
            await act(store, homing.prefix_of(handle), actor=actor)
