"""``idnode demo generate``: traceable demo products with their parts trees and events.

The records come from :func:`registry.demo.generate` (deterministic for a
seed).  With ``--file`` they go to a JSON Lines file for ``idnode import``;
without it they go straight into the registry: the demo enterprises and their
prefixes are onboarded when missing (as ``idnode enterprise add`` does), then
batches of records are stored with ``bulk_put``, which also writes their
where-used links.  Progress is shown on stderr in products.

Demo data goes only into demo prefixes: a demo prefix (``88.118.8``...) that
already belongs to another enterprise (a real one onboarded there) is refused
unless ``--force``.  Rejected records are listed, with the reason, in a CSV
report (``row,handle,reason``, as ``idnode import`` writes).  The records'
``URL`` values point at this node's own trace pages
(:attr:`registry.config.NodeConfig.public_http_url`).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.output import fields
from admin.parsing import add_command, add_group
from admin.progress import Progress
from protocol.values import HandleValue
from registry.bootstrap import onboard_enterprise
from registry.config import NodeConfig
from registry.demo import DEMO_ENTERPRISES, DemoEnterprise, Record, generate
from registry.exporter import record_line
from registry.records import HandleRecord
from registry.store import HandleStore
from registry.templates import links_of

DEFAULT_BATCH = 5000
REPORT_NAME = "demo.rejected.csv"


def demo_code(demo: DemoEnterprise) -> str:
    """A demo enterprise's code: the first word of its name in capitals (``HAIYUE``)."""
    return demo.name.split()[0].upper()


def demo_page_url(config: NodeConfig) -> str:
    """The demo records' ``URL`` pattern: this node's trace page of the record."""
    return f"{config.public_http_url}/trace/{{handle}}"


async def ensure_demo_enterprises(ctx: CommandContext, store: HandleStore, *, force: bool
                                  ) -> None:
    """Onboard the demo enterprises missing from the registry; a demo prefix another
    enterprise holds is a :class:`CliError` unless ``force``."""
    missing = []
    for demo in DEMO_ENTERPRISES:  # all checked before anything is written
        code = demo_code(demo)
        prefix = await store.get_prefix(demo.prefix)
        if prefix is None:
            missing.append(demo)
        elif prefix.owner != code and not force:
            holder = f"enterprise {prefix.owner}" if prefix.owner else "no demo enterprise"
            raise CliError(f"prefix {demo.prefix} belongs to {holder}, not to the demo "
                           f"enterprise {code}: demo data goes only into demo prefixes "
                           f"(--force writes there anyway)")
    for demo in missing:
        code = demo_code(demo)
        async with store.transaction():
            info = await store.get_enterprise(code) or await store.add_enterprise(
                code, demo.name, industry=demo.industry)
            await onboard_enterprise(store, info, demo.prefix, node_prefix=ctx.node_prefix,
                                     site=ctx.site_value(), actor=ctx.actor)


class RejectionReport:
    """The CSV of rejected records (``row,handle,reason``), created at the first one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first_reason = ""
        self._file: IO[str] | None = None

    def add(self, row: int, handle: str, reason: str) -> None:
        if self._file is None:
            self._file = self.path.open("w", newline="", encoding="utf-8")
            csv.writer(self._file).writerow(["row", "handle", "reason"])
            self.first_reason = f"{handle}: {reason}"
        csv.writer(self._file).writerow([row, handle, reason])
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def store_records(store: HandleStore, batches: Iterator[list[Record]], actor: str,
                        report: RejectionReport, *, overwrite: bool = False) -> dict[str, int]:
    """Store the batches; counts, and every rejected record in ``report``."""
    counts = {"records": 0, "inserted": 0, "replaced": 0, "rejected": 0}
    for batch in batches:
        result = await store.bulk_put(batch, actor=actor, validated=True, overwrite=overwrite)
        for rejection in result.rejected:
            report.add(counts["records"] + rejection.row + 1, rejection.name, rejection.reason)
        counts["records"] += len(batch)
        counts["inserted"] += result.inserted
        counts["replaced"] += result.replaced
        counts["rejected"] += len(result.rejected)
    return counts


def _products_in(handle: str, values: list[HandleValue]) -> int:
    """How many products a record completes: a product counts, minus the tyres and
    hoses (counted when they came) that turn out to be parts of this machine."""
    if "/MB-" in handle or "/CMP-" in handle:
        return 0
    fitted = [to for to, relation in links_of(values)
              if relation == "component" and "/CMP-" not in to]
    return 1 - len(fitted)


def _batches(args: argparse.Namespace, progress: Progress | None, page_url: str
             ) -> Iterator[list[Record]]:
    """The demo records in batches of about ``--batch`` records, reporting products done."""
    batch: list[Record] = []
    products = 0
    for handle, values in generate(args.products, seed=args.seed, page_url=page_url):
        batch.append((handle, values))
        products += _products_in(handle, values)
        if len(batch) >= args.batch:
            yield batch
            batch = []
            if progress is not None:
                progress.update(products)
    if batch:
        yield batch
    if progress is not None:
        progress.update(args.products, force=True)


def _to_file(path: Path, batches: Iterator[list[Record]]) -> dict[str, int]:
    records = 0
    with path.open("wb") as out:
        for batch in batches:
            out.writelines(record_line(HandleRecord(h, tuple(v), 1)) for h, v in batch)
            records += len(batch)
    return {"records": records}


async def demo_generate(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Generate ``--products`` demo products into a file or the registry."""
    if args.products < 1 or args.batch < 1:
        raise CliError("--products and --batch must be at least 1", EXIT_USAGE)
    progress = None if args.quiet else Progress("demo", args.products, unit="products")
    batches = _batches(args, progress, demo_page_url(ctx.config))
    started = time.monotonic()
    report = RejectionReport(Path(args.report) if args.report
                             else ctx.config.data_dir / REPORT_NAME)
    if args.file:
        counts = _to_file(Path(args.file), batches)
        target = args.file
    else:
        try:
            async with ctx.store() as store:
                await ensure_demo_enterprises(ctx, store, force=args.force)
                counts = await store_records(store, batches, ctx.actor, report)
        finally:
            report.close()
        target = "registry"
    if progress is not None:
        progress.finish()
    seconds = time.monotonic() - started
    data: dict[str, Any] = {"products": args.products, "seed": args.seed, "target": target,
                            **counts, "seconds": round(seconds, 1)}
    text = fields(data)
    if report.count:
        data["report"] = str(report.path)
        text += (f"\n{report.count} records were rejected, listed in {report.path}; "
                 f"the first: {report.first_reason}")
    ctx.out.result(data, text)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo generate``."""
    group = add_group(subparsers, "demo", "Demo data: traceable products with parts trees.")
    parser = add_command(
        group, "generate", demo_generate, writes=True,
        summary="Generate demo products (appliances, machines, tyres, hoses) with their "
        "components, material batches and lifecycle events.",
        examples="  idnode demo generate --products 1000\n"
        "  idnode demo generate --products 1000000 --seed 7 --file demo.jsonl\n"
        "  idnode import demo.jsonl",
    )
    parser.add_argument("--products", type=int, required=True, help="how many products")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--file", metavar="FILE",
                        help="write JSON Lines for 'idnode import' instead of loading the registry")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"records per transaction (default {DEFAULT_BATCH})")
    parser.add_argument("--report", metavar="FILE",
                        help=f"where rejected records go (default: {REPORT_NAME} in the data dir)")
    parser.add_argument("--force", action="store_true",
                        help="write into a demo prefix even when another enterprise holds it")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
