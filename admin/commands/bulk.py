"""``idnode import FILE`` and ``idnode export FILE``: bulk moves of handle records.

The formats, batching, resume and report are described in
:mod:`registry.importer` and :mod:`registry.exporter`; these commands add the
progress display and the summary.  ``import --sign-key FILE`` signs every
imported record under the prefixes of this node that certify (HS_CERT) or
publish (HS_PUBKEY) that key, in the write of each record (see ``idnode sign``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from admin.commands.keys import add_passphrase_options, read_private_key
from admin.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.output import fields
from admin.parsing import add_command
from admin.progress import Progress
from registry.batch_import import import_batch
from registry.exporter import export_file, write_jsonl
from registry.importer import (
    DEFAULT_BATCH_ROWS,
    FORMATS,
    ImportSummary,
    detect_format,
    import_file,
)
from registry.names import name_key
from registry.parallel_import import (
    MAX_SHARES,
    MIN_SHARE_ROWS,
    can_fork,
    import_in_parallel,
    usable_cores,
)
from registry.signing_policy import SigningPolicy, SigningUnavailable
from registry.trust.keys import PrivateKey


def _readable(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise CliError(f"cannot read {path}: no such file", EXIT_USAGE)
    return path


async def _signers(ctx: CommandContext, args: argparse.Namespace) -> dict[str, PrivateKey]:
    """The prefixes of this node whose prefix handle holds the ``--sign-key``, to that key."""
    key = read_private_key(ctx.config.path(Path(args.sign_key)), args)
    found: dict[str, PrivateKey] = {}
    async with ctx.store() as store:
        policy = SigningPolicy(store.record_values)
        for prefix in await store.list_prefixes():
            try:
                await policy.signer_ref(prefix.name, key)
            except SigningUnavailable:
                continue
            found[name_key(prefix.name)] = key
    if not found:
        raise CliError(f"--sign-key {args.sign_key}: no prefix of this node certifies or "
                       "publishes this key on its prefix handle", EXIT_USAGE)
    return found


def import_(ctx: CommandContext, args: argparse.Namespace) -> int | Coroutine[Any, Any, int]:
    """Import a CSV, JSON Lines or CNRI batch file, resuming an interrupted run of it: a
    CSV or JSON Lines file in up to ``--jobs`` processes (:mod:`registry.parallel_import`,
    forked here, before any event loop runs), a batch file in this one."""
    path = _readable(args.file)
    if args.batch < 1:
        raise CliError("--batch must be at least 1", EXIT_USAGE)
    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1", EXIT_USAGE)
    if args.format == "batch" or not can_fork():
        return _import_here(ctx, args, path)
    progress = _Shown(args)
    signers = asyncio.run(_signers(ctx, args)) if args.sign_key else None
    summary = import_in_parallel(
        partial(ctx.store, migrate=False, signers=signers), path,
        fmt=args.format or detect_format(path), shares=args.jobs or default_jobs(),
        report_path=Path(args.report) if args.report else None, batch_rows=args.batch,
        overwrite=args.overwrite, actor=ctx.actor, on_progress=progress.show,
    )
    return _summary(ctx, args, path, summary, progress)


def default_jobs() -> int:
    """How many processes an import runs unless ``--jobs`` says: one a core, at most
    :data:`MAX_SHARES`."""
    return min(usable_cores(), MAX_SHARES)


class _Shown:
    """The import's progress display (none with ``--quiet``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.quiet
        self.progress: Progress | None = None

    def show(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.progress is None:
            self.progress = Progress("import", total, start=done)
        self.progress.update(done, force=done == total)


async def _import_here(ctx: CommandContext, args: argparse.Namespace, path: Path) -> int:
    """The import in this process (a batch file's, or where processes cannot fork)."""
    progress = _Shown(args)
    signers = await _signers(ctx, args) if args.sign_key else None
    async with ctx.store(migrate=False, signers=signers) as store:
        run = import_batch if args.format == "batch" else partial(import_file, fmt=args.format)
        summary = await run(
            store, path, report_path=Path(args.report) if args.report else None,
            batch_rows=args.batch, overwrite=args.overwrite, actor=ctx.actor,
            on_progress=progress.show,
        )
    return _summary(ctx, args, path, summary, progress)


def _summary(ctx: CommandContext, args: argparse.Namespace, path: Path, summary: ImportSummary,
             progress: _Shown) -> int:
    if progress.progress is not None:
        progress.progress.finish()
    data = summary.as_dict()
    if summary.already_done:
        ctx.out.result(data, f"{path} was already imported (job {summary.job_id}); nothing to do")
        return EXIT_OK
    text = fields({k: data[k] for k in ("job_id", "rows", "resumed_from", "inserted",
                                          "replaced", "rejected", "rows_per_second",
                                          "processes")})
    if summary.rejected:
        text += f"\nrejected rows are listed in {summary.report}"
    ctx.out.result(data, text)
    return EXIT_FAILED if summary.rejected and args.strict else EXIT_OK


async def export(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Export records to JSON Lines or a CNRI batch file (``-`` writes JSON Lines to stdout)."""
    prefixes = tuple(args.prefix or ())
    if args.file == "-" and args.format == "batch":
        raise CliError("--format batch needs a file (binary data goes to FILE.files/)", EXIT_USAGE)
    async with ctx.store(migrate=False) as store:
        if args.file == "-":
            await write_jsonl(store, sys.stdout.buffer, prefixes=prefixes)
            sys.stdout.buffer.flush()
            return EXIT_OK
        path = Path(args.file)
        progress = None
        if not args.quiet:
            total = sum([await store.count_handles(p) for p in prefixes or (None,)])
            progress = Progress("export", total, unit="records")
        count = await export_file(store, path, prefixes=prefixes, fmt=args.format,
                                  on_progress=progress.update if progress else None)
    if progress is not None:
        progress.finish()
    ctx.out.result({"file": str(path), "records": count, "prefixes": list(prefixes)},
                   f"exported {count} records to {path}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` and ``export``."""
    parser = add_command(
        subparsers, "import", import_, writes=True,
        summary="Import handle records from CSV, JSON Lines or a CNRI batch file (resumable).",
        examples="""  idnode import examples/products.csv
  idnode import all.jsonl --overwrite --report rejected.csv  (all.jsonl: from idnode export)
  idnode import --format batch cnri-export.txt
  (after an interruption, run the same command again: it resumes)

formats:
  CSV         header handle,index,type,data[,ttl]; one value per row; consecutive rows
              with the same handle form one record; data is UTF-8 text
  JSON Lines  one record per line: {"handle": "88.118.8/TV-0000001", "values": [REST JSON values]}
  batch       CNRI hdl-genericbatch syntax: CREATE/ADD/MODIFY/REMOVE/DELETE/HOME/UNHOME
              blocks, value lines INDEX TYPE TTL PERMS FORMAT DATA (UTF8, ADMIN, LIST,
              FILE); AUTHENTICATE blocks are skipped; rows are line numbers
  rejected rows go to FILE.rejected.csv (row,handle,reason); rows count from 1
  after the CSV header""",
    )
    parser.add_argument("file", help="a .csv or .jsonl file, or a batch file with --format batch")
    parser.add_argument("--format", choices=(*FORMATS, "batch"),
                        help="override the format from the name (batch: always given)")
    parser.add_argument("--report", metavar="FILE",
                        help="where rejected rows go (default: FILE.rejected.csv)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing handles instead of rejecting them")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_ROWS,
                        help=f"rows per transaction (default {DEFAULT_BATCH_ROWS})")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="processes importing a CSV or JSON Lines file, each a share of "
                        f"its handles (default: one a core, at most {MAX_SHARES}; one for "
                        f"every {MIN_SHARE_ROWS} rows; 1: this process only)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any row was rejected")
    parser.add_argument("--sign-key", metavar="FILE",
                        help="sign each record with this enterprise key (PEM, relative to the "
                        "data dir unless absolute) under the prefixes that certify it")
    add_passphrase_options(parser, "the --sign-key")
    parser.add_argument("--quiet", action="store_true", help="no progress display")

    parser = add_command(
        subparsers, "export", export,
        summary="Export handle records to JSON Lines (the import format) or a CNRI batch file.",
        examples="  idnode export all.jsonl\n  idnode export --prefix 88.118.8 haiyue.jsonl\n"
        "  idnode export - | gzip > backup.jsonl.gz\n"
        "  idnode export --format batch all.batch   (binary data in all.batch.files/)",
    )
    parser.add_argument("file", help="output file, or - for stdout")
    parser.add_argument("--format", choices=("jsonl", "batch"), default="jsonl",
                        help="jsonl (default) or batch (CNRI hdl-genericbatch CREATE blocks)")
    parser.add_argument("--prefix", action="append",
                        help="only handles with exactly this prefix (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
