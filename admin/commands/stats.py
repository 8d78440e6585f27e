"""``idnode stats`` and ``idnode stats report``: usage figures, and the report sent upward.

The report document is described in :mod:`registry.stats_report`.  ``--upper``
takes an ``http(s)://`` URL (the document is POSTed as ``application/json``)
or a file path (written there).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from admin.context import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    CommandContext,
)
from admin.output import fields, table
from admin.parsing import add_command
from registry.stats_report import build_report

DEFAULT_PERIOD = timedelta(days=1)


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"not an ISO date or time: {text!r}", EXIT_USAGE) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """``[since, until)`` from the options; by default the last 24 hours."""
    end = parse_time(args.until) if args.until else datetime.now(UTC)
    start = parse_time(args.since) if args.since else end - DEFAULT_PERIOD
    if start >= end:
        raise CliError("--since must be before --until", EXIT_USAGE)
    return start, end


async def _report(ctx: CommandContext, args: argparse.Namespace) -> dict[str, Any]:
    start, end = period(args)
    async with ctx.store() as store:
        return await build_report(store, ctx.node_prefix, start, end)


def render(report: dict[str, Any]) -> str:
    """The report as text: summary fields, then the tables."""
    ids, res, cache = report["identifiers"], report["resolutions"], report["cache"]
    ratio = "-" if cache["ratio"] is None else f"{100 * cache['ratio']:.1f}%"
    head = {"node prefix": report["node_prefix"],
            "period": f"{report['period']['start']} .. {report['period']['end']}",
            "identifiers": ids["total"], "resolutions": res["total"],
            "cache hit ratio": f"{ratio} ({cache['hits']} hits, {cache['misses']} misses)"}
    return "\n\n".join([
        fields(head),
        "identifiers per enterprise\n" + table(ids["by_enterprise"]),
        "identifiers per prefix\n" + table(ids["by_prefix"]),
        "resolutions per period\n" + table(res["by_period"]),
    ])


async def stats(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Identifier counts and usage for a period."""
    report = await _report(ctx, args)
    ctx.out.result(report, render(report))
    return EXIT_OK


async def send(document: dict[str, Any], upper: str) -> str:
    """Deliver ``document`` upward (:func:`resolver.core.upper_report.deliver`); where it went."""
    from resolver.core.upper_report import UpperReportError, deliver  # HTTP client: report only

    try:
        return await deliver(document, upper)
    except UpperReportError as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED) from None


async def report(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Build the periodic statistics report and deliver it upward."""
    document = await _report(ctx, args)
    where = await send(document, args.upper)
    ctx.out.result({"sent_to": where, "report": document},
                   f"statistics report for {document['period']['start']} .. "
                   f"{document['period']['end']} sent to {where}")
    return EXIT_OK


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="period start, ISO date or time (default: 24 h ago)")
    parser.add_argument("--until", help="period end, exclusive (default: now)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stats`` with its ``report`` sub-command."""
    parser = add_command(
        subparsers, "stats", stats,
        summary="Identifiers per prefix and enterprise, resolutions per period, cache ratio.",
        examples="  idnode stats\n  idnode stats --since 2026-11-01 --until 2026-12-01\n"
        "  idnode stats report --upper https://national.example/stats\n"
        "  idnode stats report --upper report-2026-11.json --since 2026-11-01",
    )
    _period_options(parser)
    sub = parser.add_subparsers(dest="stats_command", metavar="[report]")
    child = add_command(
        sub, "report", report,
        summary="Send the periodic statistics report (JSON) to the upper node or a file.",
        examples="  idnode stats report --upper https://national.example/stats\n"
        "  idnode stats report --upper report.json --since 2026-11-01 --until 2026-12-01\n\n"
        'report: one JSON document, "format": "idnode-stats-report/1", with node_prefix,\n'
        "generated, period {start, end}, identifiers {total, by_prefix, by_enterprise},\n"
        "resolutions {total, by_prefix, by_period} and cache {hits, misses, ratio};\n"
        "POSTed as application/json (any 2xx accepts it) or written to the file",
    )
    child.add_argument("--upper", required=True, metavar="URL-OR-FILE",
                       help="http(s) URL to POST to, or a file to write")
    _period_options(child)
