"""``idnode backup FILE`` and ``idnode restore FILE``: a consistent copy of the registry and back.

SQLite nodes are copied online with SQLite's backup API (the node may keep
serving); PostgreSQL nodes with ``pg_dump --format=custom`` of the node's
schema, restored with ``pg_restore`` into an empty database
(:mod:`registry.backup`).  A restore ends by verifying the audit chain of
what it restored and exits 1 if the chain is broken.  Keys under the data
dir (``keys/``) and ``idnode.toml`` are files: copy them with the backup.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from admin.context import EXIT_FAILED, EXIT_OK, CliError, CommandContext
from admin.parsing import add_command
from admin.progress import Progress
from registry.backup import BackupError, make_backup, restore_backup


async def backup(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Write a consistent copy of the registry to FILE."""
    progress = Progress("backup", 0, unit="pages")

    def report(done: int, total: int) -> None:
        progress.total = total
        progress.update(done)

    try:
        size = await asyncio.to_thread(
            make_backup, ctx.config.effective_database_url,
            ctx.config.database_schema or "public", Path(args.file),
            replace=args.replace, progress=report)
    except BackupError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    if progress.done:
        progress.finish()
    ctx.out.result({"file": args.file, "bytes": size}, f"{args.file}: {size} bytes")
    return EXIT_OK


async def restore(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Restore FILE into this node's (empty) database, then verify the audit chain."""
    try:
        await asyncio.to_thread(restore_backup, Path(args.file),
                                ctx.config.effective_database_url, replace=args.replace)
    except BackupError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    async with ctx.store(migrate=True) as store:
        report = await store.verify_audit()
    data = {"file": args.file, "audit_ok": report.ok, "audit_rows": report.rows,
            "first_bad_seq": report.first_bad_seq}
    if not report.ok:
        ctx.out.result(data, f"restored, but the audit chain is BROKEN at entry "
                             f"{report.first_bad_seq}: {report.reason}")
        return EXIT_FAILED
    ctx.out.result(data, f"restored {args.file}; audit chain intact: "
                         f"{report.rows} entries verified")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backup`` and ``restore``."""
    parser = add_command(
        subparsers, "backup", backup,
        summary="Write a consistent copy of the registry (SQLite online backup, or pg_dump).",
        examples="  idnode backup registry-2026-12-06.db\n"
        "  IDNODE_DATABASE_URL=postgresql://... idnode backup node.dump",
    )
    parser.add_argument("file")
    parser.add_argument("--replace", action="store_true", help="overwrite FILE if it exists")
    parser = add_command(
        subparsers, "restore", restore,
        summary="Restore a backup into this node's empty database and verify the audit chain.",
        examples="  idnode --data-dir new-node restore registry-2026-12-06.db\n"
        "  IDNODE_DATABASE_URL=postgresql://.../fresh idnode restore node.dump",
    )
    parser.add_argument("file")
    parser.add_argument("--replace", action="store_true",
                        help="SQLite: replace an existing database file")
