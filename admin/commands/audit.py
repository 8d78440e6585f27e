"""``idnode audit show|verify``: the hash-chained log of every registry write."""

from __future__ import annotations

import argparse
from typing import Any

from admin.context import EXIT_FAILED, EXIT_OK, CommandContext
from admin.output import table
from admin.parsing import add_command, add_group
from registry.records import AuditEntry
from registry.store import HandleStore

ALL = 1 << 62


def entry_row(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as a table row (digests shortened; JSON output has them whole)."""
    return {"seq": entry.seq, "time": entry.time.isoformat(timespec="seconds"),
            "actor": entry.actor, "action": entry.action, "handle": entry.handle,
            "before": entry.before, "after": entry.after, "detail": entry.detail}


def _short(row: dict[str, Any]) -> dict[str, Any]:
    return row | {k: row[k][:12] for k in ("before", "after") if row[k]} | {
        "detail": ", ".join(f"{k}={v}" for k, v in sorted(row["detail"].items()))}


async def last_seq(store: HandleStore) -> int:
    """The newest sequence number (0 for an empty log), by galloping over ``after_seq``."""
    low, high = 0, 1
    while await store.audit_entries(after_seq=high, limit=1):
        low, high = high, high * 2
    while high - low > 1:  # entries exist after low, none after high
        middle = (low + high) // 2
        if await store.audit_entries(after_seq=middle, limit=1):
            low = middle
        else:
            high = middle
    return high if await store.audit_entries(after_seq=low, limit=1) else low


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """The newest entries (of one handle), oldest first; or those after ``--after``."""
    async with ctx.store() as store:
        if args.after or args.handle:
            entries = await store.audit_entries(handle=args.handle, after_seq=args.after,
                                                limit=args.limit if args.after else ALL)
            entries = entries if args.after else entries[-args.limit:]
        else:
            start = max(0, await last_seq(store) - args.limit)
            entries = await store.audit_entries(after_seq=start, limit=args.limit)
    rows = [entry_row(e) for e in entries]
    ctx.out.result(rows, table([_short(r) for r in rows]))
    return EXIT_OK


async def verify(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Walk the whole chain; exit 1 naming the first bad entry."""
    del args
    async with ctx.store() as store:
        report = await store.verify_audit()
    data = {"ok": report.ok, "rows_checked": report.rows, "first_bad_seq": report.first_bad_seq,
            "reason": report.reason}
    if report.ok:
        ctx.out.result(data, f"audit chain intact: {report.rows} entries verified")
        return EXIT_OK
    ctx.out.result(data, f"audit chain BROKEN at entry {report.first_bad_seq}: {report.reason} "
                   f"({report.rows} entries before it verified)")
    return EXIT_FAILED


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command group."""
    group = add_group(subparsers, "audit", "Inspect and verify the audit log.")
    parser = add_command(group, "show", show, summary="Show audit log entries, oldest first.",
                         examples="  idnode audit show --limit 20\n"
                         "  idnode audit show --handle 88.118.8/TV-0000001")
    parser.add_argument("--handle", help="only entries of this handle (exact name)")
    parser.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    parser.add_argument("--after", type=int, default=0, metavar="SEQ",
                        help="entries after this sequence number instead of the newest")
    add_command(group, "verify", verify,
                summary="Verify the audit hash chain; exit 1 at the first bad entry.",
                examples="  idnode audit verify")
