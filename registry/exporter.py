"""Export of handle records to JSON Lines, the format :mod:`registry.importer` reads,
or to a CNRI batch file of CREATE blocks (:mod:`registry.batchfile`, ``--format batch``).

One record per line, handles in lookup-key order, values in index order in
REST JSON form (:mod:`protocol.rest_json`), timestamps and permissions kept::

    {"handle":"88.118.8/TV-0001","values":[{"index":1,"type":"URL",...}]}

Importing an export into an empty node and exporting again gives the same
bytes.  The output file is written under a temporary name and renamed when
complete, so a crash never leaves a truncated export behind.  An export holds
every value, HS_SECKEY included, so the file is made readable by its owner
only.  Enterprises, prefixes and credentials records are registry tables, not
handle records, and are not part of an export.

A batch export ``F`` puts the data no inline batch format carries in files
under ``F.files/`` (owner only), named on FILE lines relative to ``F``'s folder;
importing it into an empty node and exporting again gives the same bytes too
(timestamps are not part of a batch file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

from protocol.rest_json import value_to_json
from registry.batchfile import FileSink, FolderSink, record_block
from registry.records import HandleRecord
from registry.store import HandleStore


def record_line(record: HandleRecord) -> bytes:
    """One JSON Lines line (with its newline) for ``record``."""
    obj = {"handle": record.name, "values": [value_to_json(v) for v in record.values]}
    return orjson.dumps(obj) + b"\n"


def batch_encoder(sink: FileSink) -> Callable[[HandleRecord], bytes]:
    """The batch-file CREATE block of a record, FILE data going to ``sink``."""
    return lambda record: record_block(record.name, record.values, sink).encode("utf-8")


async def write_jsonl(
    store: HandleStore,
    out: IO[bytes],
    *,
    prefixes: tuple[str, ...] = (),
    on_progress: Callable[[int], None] | None = None,
    encode: Callable[[HandleRecord], bytes] = record_line,
) -> int:
    """Write every record (of ``prefixes``, all when empty) to ``out``; the count.
    ``encode`` gives a record's bytes (a JSON line by default)."""
    count = 0
    for prefix in prefixes or (None,):
        async for record in store.iter_handles(prefix):
            out.write(encode(record))
            count += 1
            if on_progress and count % 1000 == 0:
                on_progress(count)
    if on_progress:
        on_progress(count)
    return count


async def export_file(
    store: HandleStore,
    path: Path,
    *,
    prefixes: tuple[str, ...] = (),
    on_progress: Callable[[int], None] | None = None,
    fmt: str = "jsonl",
) -> int:
    """Export to ``path`` atomically (temporary file, then rename); the record count.
    ``fmt`` is ``jsonl`` or ``batch``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    encode: Callable[[HandleRecord], bytes] = record_line
    if fmt == "batch":
        folder = path.with_name(path.name + ".files")
        encode = batch_encoder(FolderSink(folder, path.parent))
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            count = await write_jsonl(store, out, prefixes=prefixes, on_progress=on_progress,
                                      encode=encode)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return count
