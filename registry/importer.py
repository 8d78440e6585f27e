"""Bulk import of handle records from CSV or JSON Lines, resumable after a crash.

Input formats (chosen by the file name: ``.csv``; ``.jsonl``/``.ndjson``/``.json``):

* **CSV**, one value per row, with a header naming the columns
  ``handle,index,type,data`` and optionally ``ttl`` (any order).  Consecutive
  rows with the same handle form one record (a UTF-8 byte order mark, as
  spreadsheet programs write, is fine).  ``data`` is written as for
  ``idnode handle create --value`` (:mod:`protocol.value_text`): UTF-8 text
  for URL, EMAIL, industry fields..., ``HANDLE:INDEX`` for HS_ADMIN,
  references for HS_VLIST, ``@FILE`` (next to the CSV file) for HS_PUBKEY;
  other binary data (HS_SITE...) needs JSON Lines.  Values get the default
  permissions (HS_SECKEY: admins only) and the import time as timestamp.
  (A "wide" CSV, one row per handle with a column per type, is deliberately
  not accepted: it cannot say indexes, TTLs or two values of one type.)
  Example::

      handle,index,type,data,ttl
      88.118.8/TV-0001,1,URL,https://example.com/tv/0001,86400
      88.118.8/TV-0001,2,EMAIL,support@example.com,

* **JSON Lines**, one record per line, the values in REST JSON form
  (:mod:`protocol.rest_json`), exactly what :mod:`registry.exporter` writes::

      {"handle": "88.118.8/TV-0001", "values": [{"index": 1, "type": "URL", ...}]}

Row numbers count data rows from 1 (the CSV header is not a row; for JSON
Lines the row is the line number).  A record spans the rows of its values.

Every batch of about ``batch_rows`` source rows is one :meth:`HandleStore.bulk_put`
transaction that also moves the job's checkpoint (rows committed).  The job id
is derived from the SHA-256 of the file, so running the same command again
after an interruption (even ``kill -9``) skips the committed rows and goes on;
nothing is stored twice.  Rejected records (unparsable rows, existing handles
without ``overwrite``, suspended enterprises, quota) are appended to a CSV
report ``row,handle,reason`` after their batch commits (a crash in between
loses that batch's report lines, never its data).  A file that was imported
completely is not imported again: the command says so and does nothing.
``idnode import`` runs a file in several processes, a :class:`Share` of its handles
each, with a job and report part of their own (:mod:`registry.parallel_import`); this
module reads the records of a share and imports one process's batches.
Each record passes the store's write rules (:mod:`registry.write_rules`) as a
server's write would: one whose HS_SIGNATURE does not verify, or with too many
values, is rejected with the reason, and the handles of enterprises the node
signs for are signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, NamedTuple, TypedDict, TypeVar

import orjson

from protocol.errors import ProtocolError
from protocol.rest_json import value_from_json
from protocol.value_text import ReadFile, ValueSyntaxError, text_type, value_from_text
from protocol.values import DEFAULT_TTL, TTL_TYPE_RELATIVE, HandleValue, make_value
from registry.collector import IMPORT_YOUNG_OBJECTS, few_collections
from registry.errors import InvalidArgument
from registry.names import name_key
from registry.plain_jsonl import plain_record
from registry.store import HandleStore

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = ("handle", "index", "type", "data")
CSV_OPTIONAL = ("ttl",)
REPORT_HEADER = ("row", "handle", "reason")
DEFAULT_BATCH_ROWS = 5000
UTF8_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
T = TypeVar("T")


class ImportOptions(TypedDict, total=False):
    """The keyword options every import takes (see :func:`import_file`)."""

    report_path: Path | None
    batch_rows: int
    overwrite: bool
    actor: str
    on_progress: Callable[[int, int], None] | None


class Item(NamedTuple):
    """One record read from the source (or the reason it could not be read).

    ``row`` is its first source row, ``end`` its last; ``error`` is set when
    the record is unusable, and then ``values`` is empty.  (A named tuple: a reader
    makes one per record, and a frozen dataclass's ``__init__`` cost a plain CSV
    import ~0.5 s a million rows.)
    """

    row: int
    end: int
    handle: str
    values: tuple[HandleValue, ...] = ()
    error: str | None = None


_new_tuple = tuple.__new__  # Item(...) through its __new__ costs ~0.3 us more a record


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a pass over the file learned: its digest and how many rows it has."""

    path: Path
    format: str
    digest: str
    rows: int

    @property
    def job_id(self) -> str:
        """The import job id: the same file always resumes the same job."""
        return f"import-{self.digest[:40]}"


@dataclass(slots=True)
class ImportSummary:
    """Outcome of one run of :func:`import_file`."""

    job_id: str
    source: str
    format: str
    rows: int
    resumed_from: int = 0
    rows_done: int = 0
    inserted: int = 0
    replaced: int = 0
    rejected: int = 0
    report: str = ""
    seconds: float = 0.0
    #: CPU time of the process (every thread) over ``seconds``: the figure to compare
    #: runs by on a shared machine
    cpu_seconds: float = 0.0
    already_done: bool = False
    #: how many processes imported (:mod:`registry.parallel_import`)
    processes: int = 1

    @property
    def rows_per_second(self) -> float:
        """Source rows processed per second in this run."""
        done = self.rows_done - self.resumed_from
        return done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "job_id": self.job_id, "source": self.source, "format": self.format,
            "rows": self.rows, "resumed_from": self.resumed_from, "rows_done": self.rows_done,
            "inserted": self.inserted, "replaced": self.replaced, "rejected": self.rejected,
            "report": self.report, "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "rows_per_second": round(self.rows_per_second), "already_done": self.already_done,
            "processes": self.processes,
        }


def detect_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file name."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InvalidArgument(f"{path}: cannot tell the format from the name; give --format csv|jsonl")


def scan_source(path: Path, fmt: str) -> SourceInfo:
    """SHA-256 and row count of ``path`` in one pass (rows: lines, minus a CSV header)."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    rows = max(0, lines - 1) if fmt == "csv" else lines
    return SourceInfo(path, fmt, digest.hexdigest(), rows)


# --- readers ----------------------------------------------------------------------


def read_jsonl(stream: IO[bytes], *, skip: int = 0, share: Share | None = None
               ) -> Iterator[Item]:
    """Records of a JSON Lines stream; the first ``skip`` lines are passed over unparsed;
    with ``share``, only the records it takes (the others' lines are not parsed when
    their handle can be read without: :func:`line_handle`)."""
    for number, line in enumerate(stream, start=1):
        if number <= skip or not line or line.isspace():  # (no stripped copy of a line)
            continue
        if number == 1:
            line = line.removeprefix(UTF8_BOM)
        if share is not None:
            handle = line_handle(line)
            if handle is None:  # read the line to know whose it is
                item = _jsonl_item(number, line)
                if share.takes(item.handle, number):
                    yield item
                continue
            if not share.takes(handle, number):
                continue
        yield _jsonl_item(number, line)


class Share(NamedTuple):
    """Which records of a file one of ``of`` importing processes takes: those whose
    handle's name key hashes to ``number`` (every record of a handle in the file goes
    to the same process, in the file's order); a record with no handle by its first
    row."""

    number: int
    of: int

    def takes(self, handle: str, row: int) -> bool:
        """Whether the record of ``handle`` starting at ``row`` is this share's."""
        if not handle:
            return row % self.of == self.number
        return zlib.crc32(name_key(handle).encode("utf-8", "surrogatepass")) % self.of \
            == self.number

    @property
    def label(self) -> str:
        """``N.S``: share N (counted from 1) of S, as its job, report part and process
        are named."""
        return f"{self.number + 1}.{self.of}"

    def job_id(self, job_id: str) -> str:
        """This share's job of the file job ``job_id``: ``JOB/N.S``."""
        return f"{job_id}/{self.label}"

    @staticmethod
    def count_in(share_job_id: str) -> int:
        """How many shares the file's import ran in, from one of their jobs' ids."""
        return int(share_job_id.rpartition(".")[2])


_HANDLE_OPENINGS = (b'{"handle":"', b'{"handle": "')


def line_handle(line: bytes) -> str | None:
    """The handle of a JSON Lines record that starts with it, as the exporter and most
    tools write (``{"handle": "..."``), read without parsing the line: None if the line
    starts otherwise, names ``"handle"`` again, or the name holds an escape."""
    for opening in _HANDLE_OPENINGS:
        if line.startswith(opening):
            end = line.find(b'"', len(opening))
            raw = line[len(opening):end]
            if end < 0 or b"\\" in raw or line.count(b'"handle"') != 1:
                return None
            try:
                return raw.decode()
            except UnicodeDecodeError:
                return None
    return None


def _jsonl_item(number: int, line: bytes) -> Item:
    if (plain := plain_record(line)) is not None:  # most records: registry.plain_jsonl
        return _new_tuple(Item, (number, number, plain[0], plain[1], None))
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Item(number, number, "", error=f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return Item(number, number, "", error="a line must be a JSON object")
    handle = obj.get("handle")
    if not isinstance(handle, str) or not handle:
        return Item(number, number, "", error='missing "handle"')
    raw_values = obj.get("values")
    if not isinstance(raw_values, list):
        return Item(number, number, handle, error='"values" must be a list')
    try:
        values = tuple([value_from_json(v) for v in raw_values])
    except (ProtocolError, ValueError, TypeError, KeyError) as exc:
        return Item(number, number, handle, error=f"bad value: {exc}")
    return Item(number, number, handle, values)


def read_csv(
    stream: IO[str], *, skip: int = 0, read: ReadFile | None = None,
    share: Share | None = None,
) -> Iterator[Item]:
    """Records of a CSV stream (see the module docstring); rows up to ``skip`` are passed
    over; ``read`` opens the files ``@FILE`` data names (none accepted without it); with
    ``share``, only the records it takes."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    columns = [c.strip().lower() for c in header]
    missing = [c for c in CSV_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in CSV_COLUMNS + CSV_OPTIONAL]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise InvalidArgument(
            f"CSV header must name handle,index,type,data[,ttl]: {problem}"
        )
    at = {name: columns.index(name) for name in columns}
    layout = _Layout(len(at), at["index"], at["type"], at["data"], at.get("ttl"))
    group: list[tuple[int, list[str]]] = []
    current = ""
    handle_at = at["handle"]
    rows = enumerate(reader, start=1)
    if skip:
        for number, _cells in rows:
            if number >= skip:
                break
    for number, cells in rows:
        if not cells:
            continue
        try:
            handle = cells[handle_at].strip()
        except IndexError:  # a short row: _csv_item names it
            handle = ""
        if handle == current and group:
            group.append((number, cells))
            continue
        if group and (share is None or share.takes(current, group[0][0])):
            yield _csv_item(current, group, layout, read)
        group = [(number, cells)]
        current = handle
    if group and (share is None or share.takes(current, group[0][0])):
        yield _csv_item(current, group, layout, read)


class _Layout(NamedTuple):
    """Where a CSV's columns are: how many, and the index of each (``ttl``: None if absent)."""

    columns: int
    index_at: int
    type_at: int
    data_at: int
    ttl_at: int | None


def _csv_item(
    handle: str, group: list[tuple[int, list[str]]], layout: _Layout, read: ReadFile | None
) -> Item:
    """The record of ``handle`` (stripped) whose rows are ``group``."""
    first, end = group[0][0], group[-1][0]
    values = []
    columns, index_at, type_at, data_at, ttl_at = layout
    for number, cells in group:
        if len(cells) != columns:
            return Item(first, end, handle, error=f"row {number}: expected {columns} columns, "
                        f"got {len(cells)}")
        try:
            index = int(cells[index_at])
        except ValueError:
            return Item(first, end, handle, error=f"row {number}: index must be a number, "
                        f"got {cells[index_at].strip()!r}")
        ttl = DEFAULT_TTL
        if ttl_at is not None and (ttl_text := cells[ttl_at].strip()):
            try:
                ttl = int(ttl_text)
            except ValueError:
                return Item(first, end, handle,
                            error=f"row {number}: ttl must be a number, got {ttl_text!r}")
        plain = _text_type(cells[type_at])
        if plain is not None:  # the common case: the data is the text (value_from_text's)
            values.append(make_value(index, plain[0], cells[data_at].encode("utf-8"),
                                     TTL_TYPE_RELATIVE, ttl, 0, True, True, plain[1], False, ()))
            continue
        try:
            values.append(value_from_text(index, cells[type_at], cells[data_at], ttl=ttl,
                                          read=read))
        except ValueSyntaxError as exc:
            return Item(first, end, handle, error=f"row {number}: {exc}")
    if not handle:
        return Item(first, end, handle, error=f"row {first}: empty handle")
    return _new_tuple(Item, (first, end, handle, tuple(values), None))


#: :func:`text_type` by the type column as written (a CSV repeats a few of them)
_text_type = lru_cache(maxsize=1024)(text_type)


def items_of(source: SourceInfo, skip: int, opened: list[IO[Any]],
             share: Share | None = None) -> Iterator[Item]:
    """The records of ``source`` after row ``skip`` (those of ``share``); the files it
    opens go to ``opened``, for the caller to close."""
    if source.format == "csv":
        text = source.path.open(newline="", encoding="utf-8-sig")
        opened.append(text)
        folder = source.path.parent
        return read_csv(text, skip=skip, read=lambda name: (folder / name).read_bytes(),
                        share=share)
    raw = source.path.open("rb")
    opened.append(raw)
    return read_jsonl(raw, skip=skip, share=share)


@asynccontextmanager
async def read_ahead(source: Iterator[T]) -> AsyncIterator[AsyncGenerator[T, None]]:
    """``source``'s items, the next one read on a worker thread while the caller works on
    the current one: the next batch is parsed while the database stores this one (SQLite
    and the file reads let go of the GIL, so the two overlap on a second core).  Only
    one thread advances ``source`` at a time; leaving the block waits for the read under
    way, so the caller may close the files ``source`` reads."""
    pending: asyncio.Future[T | None] | None = None

    def advance() -> T | None:
        return next(source, None)

    async def items() -> AsyncGenerator[T, None]:
        nonlocal pending
        pending = asyncio.ensure_future(asyncio.to_thread(advance))
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(advance))
            yield item
        pending = None

    reading = items()
    try:
        yield reading
    finally:
        if pending is not None and not pending.done():
            with contextlib.suppress(Exception):
                await pending
        await reading.aclose()


#: how many rows a batch may hold, given how many batches came before it and the row it
#: starts at (:func:`batches_of`)
BatchLimit = Callable[[int, int], int]


def batches_of(items: Iterator[Item], batch_rows: int, limit: BatchLimit | None = None
               ) -> Iterator[list[Item]]:
    """``items`` in batches of about ``batch_rows`` source rows (whole records), or of
    ``limit(batches before, first row)`` if given."""
    batch: list[Item] = []
    rows = made = 0
    most = batch_rows
    for item in items:
        if not batch and limit is not None:
            most = limit(made, item.row)
        batch.append(item)
        rows += item.end - item.row + 1
        if rows >= most:
            yield batch
            batch, rows, made = [], 0, made + 1
    if batch:
        yield batch


# --- the import ----------------------------------------------------------------------


def open_report(path: Path, resuming: bool) -> IO[str]:
    if resuming and path.exists():
        return path.open("a", newline="", encoding="utf-8")
    handle = path.open("w", newline="", encoding="utf-8")
    csv.writer(handle).writerow(REPORT_HEADER)
    return handle


async def open_job(
    store: HandleStore, path: Path, fmt: str, report_path: Path | None,
    source: SourceInfo | None = None,
) -> tuple[SourceInfo, ImportSummary]:
    """Scan ``path`` (unless ``source`` is its scan) and start (or find) its job: the
    summary says where it resumes (``resumed_from``), whether it was ``already_done``,
    and the report's path (default: ``FILE.rejected.csv``)."""
    source = source or scan_source(path, fmt)
    report_path = report_path or path.with_name(path.name + ".rejected.csv")
    job = await store.start_import_job(source.job_id, source.digest)
    summary = ImportSummary(source.job_id, str(path), source.format, source.rows,
                            resumed_from=job.rows_done, rows_done=job.rows_done,
                            report=str(report_path), already_done=job.status == "done")
    return source, summary


async def import_file(
    store: HandleStore,
    path: Path,
    *,
    fmt: str | None = None,
    report_path: Path | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    overwrite: bool = False,
    actor: str = "import",
    on_progress: Callable[[int, int], None] | None = None,
    source: SourceInfo | None = None,
) -> ImportSummary:
    """Import ``path`` into ``store``, resuming its job if an earlier run was interrupted.

    ``on_progress(rows_done, rows_total)`` is called after every committed batch;
    ``source``: the file's scan, if made already.  A file an interrupted run imported
    in several processes is resumed by :mod:`registry.parallel_import` only.
    """
    source, summary = await open_job(store, path, fmt or detect_format(path), report_path,
                                     source)
    if summary.already_done:
        return summary
    if shares := await store.import_jobs_under(source.job_id):
        raise InvalidArgument(
            f"{path}: an interrupted import of it ran in {Share.count_in(shares[0].job_id)} "
            "processes; run 'idnode "
            "import' on it again to resume them (registry.parallel_import)")
    started, cpu_started = time.monotonic(), time.process_time()
    if on_progress:
        on_progress(summary.rows_done, source.rows)
    await import_batches(
        store, source, summary, report_path=Path(summary.report),
        resuming=summary.resumed_from > 0, batch_rows=batch_rows, overwrite=overwrite,
        actor=actor,
        after_batch=(lambda: on_progress(summary.rows_done, source.rows)) if on_progress else None)
    await store.finish_import_job(source.job_id)
    summary.seconds = time.monotonic() - started
    summary.cpu_seconds = time.process_time() - cpu_started
    return summary


async def import_batches(
    store: HandleStore,
    source: SourceInfo,
    summary: ImportSummary,
    *,
    report_path: Path,
    resuming: bool,
    batch_rows: int,
    overwrite: bool,
    actor: str,
    share: Share | None = None,
    batch_limit: BatchLimit | None = None,
    hold: Callable[[], contextlib.AbstractAsyncContextManager[object]] | None = None,
    after_batch: Callable[[], None] | None = None,
) -> None:
    """Import the records of ``source`` after ``summary.rows_done`` (those of ``share``)
    a batch at a time (of ``batch_limit``'s size if given: :func:`batches_of`), each moving the job
    ``summary.job_id``; rejected rows go to the report at ``report_path`` (appended to
    when ``resuming``), each batch's write is made inside ``hold()``, and
    ``after_batch()`` runs after each committed batch (:func:`import_batch_items`)."""
    opened: list[IO[Any]] = []
    try:
        items = items_of(source, summary.rows_done, opened, share)
        report = open_report(report_path, resuming)
        opened.append(report)
        writer = csv.writer(report)
        with few_collections(IMPORT_YOUNG_OBJECTS):  # registry.collector: few passes
            async with read_ahead(batches_of(items, batch_rows, batch_limit)) as batches:
                async for batch in batches:
                    await import_batch_items(store, batch, summary, writer, actor, overwrite,
                                             hold=hold)
                    report.flush()
                    if after_batch:
                        after_batch()
                # let go of the last batch's records here: leaving the block lets the
                # collector's young pass run, and it would walk them (~20 ms a 5,000-record
                # batch of demo records)
                batch = []
    finally:
        for handle in opened:
            handle.close()


async def import_batch_items(
    store: HandleStore,
    batch: list[Item],
    summary: ImportSummary,
    writer: Any,
    actor: str,
    overwrite: bool,
    *,
    hold: Callable[[], contextlib.AbstractAsyncContextManager[object]] | None = None,
) -> None:
    """Store the records of ``batch`` as one bulk write that moves the summary's job to
    the batch's last row; count them in ``summary`` and write the rejected rows to
    ``writer``.  The records are made ready first
    (:meth:`HandleStore.prepare_bulk`), then stored inside ``hold()`` (another importing
    process's turn to store waits for it: :mod:`registry.parallel_import`)."""
    good = [item for item in batch if item.error is None]
    position = batch[-1].end
    records = [(item.handle, item.values) for item in good]
    prepared = await store.prepare_bulk(records)
    async with hold() if hold is not None else contextlib.nullcontext():
        result = await store.bulk_put(
            records, actor=actor, job_id=summary.job_id, job_position=position,
            overwrite=overwrite, prepared=prepared,
        )
    rejected = [(item.row, item.handle, item.error or "") for item in batch if item.error]
    if not result.skipped:
        rejected += [(good[r.row].row, r.name, r.reason) for r in result.rejected]
        summary.inserted += result.inserted
        summary.replaced += result.replaced
    else:
        rejected = []
    rejected.sort()
    writer.writerows(rejected)
    summary.rejected += len(rejected)
    summary.rows_done = position
