"""``idnode demo generate``: traceable demo products with their parts trees and events.

The records come from :func:`registry.demo.generate` (deterministic for a
seed).  With ``--file`` they go to a JSON Lines file for ``idnode import``;
without it they go straight into the registry: the demo enterprises'
prefixes are created when missing, then batches of records are stored with
``bulk_put``, which also writes their where-used links.  Progress is shown on
stderr in products.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.output import fields
from admin.parsing import add_command, add_group
from admin.progress import Progress
from protocol.values import HandleValue
from registry.demo import DEMO_ENTERPRISES, Record, generate
from registry.errors import AlreadyExists
from registry.exporter import record_line
from registry.records import HandleRecord
from registry.store import HandleStore
from registry.templates import links_of

DEFAULT_BATCH = 5000


def _products_in(handle: str, values: list[HandleValue]) -> int:
    """How many products a record completes: a product counts, minus the tyres and
    hoses (counted when they came) that turn out to be parts of this machine."""
    if "/MB-" in handle or "/CMP-" in handle:
        return 0
    fitted = [to for to, relation in links_of(values)
              if relation == "component" and "/CMP-" not in to]
    return 1 - len(fitted)


def _batches(args: argparse.Namespace, progress: Progress | None) -> Iterator[list[Record]]:
    """The demo records in batches of about ``--batch`` records, reporting products done."""
    batch: list[Record] = []
    products = 0
    for handle, values in generate(args.products, seed=args.seed):
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


async def _to_store(store: HandleStore, batches: Iterator[list[Record]], actor: str
                    ) -> dict[str, int]:
    for enterprise in DEMO_ENTERPRISES:
        with contextlib.suppress(AlreadyExists):
            await store.create_prefix(enterprise.prefix)
    counts = {"records": 0, "inserted": 0, "rejected": 0}
    for batch in batches:
        result = await store.bulk_put(batch, actor=actor, validated=True)
        counts["records"] += len(batch)
        counts["inserted"] += result.inserted
        counts["rejected"] += len(result.rejected)
    return counts


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
    batches = _batches(args, progress)
    started = time.monotonic()
    if args.file:
        counts = _to_file(Path(args.file), batches)
        target = args.file
    else:
        async with ctx.store() as store:
            counts = await _to_store(store, batches, ctx.actor)
        target = "registry"
    if progress is not None:
        progress.finish()
    seconds = time.monotonic() - started
    data: dict[str, Any] = {"products": args.products, "seed": args.seed, "target": target,
                            **counts, "seconds": round(seconds, 1)}
    ctx.out.result(data, fields(data))
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
    parser.add_argument("--quiet", action="store_true", help="no progress display")
