"""Scratch nodes for a benchmark: initialise a data dir and load demo products into it.

``idnode init --demo --demo-products 0`` makes the keys, the node identity and
the demo enterprises' prefixes; the products of :func:`registry.demo.generate`
are then written with :meth:`HandleStore.bulk_put` in batches (constant
memory), and the names of every stored record are returned so the workload
can ask for them.  The generator's records are known good: stored ``validated``
(no traceability check), as ``idnode demo`` stores them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from benchmarks.processes import run_idnode
from protocol.values import HandleValue
from registry.demo import DEMO_PREFIXES, generate
from registry.store import HandleStore

BATCH = 2000
Progress = Callable[[str], None]


def _batches(records: Iterator[tuple[str, list[HandleValue]]]
             ) -> Iterator[list[tuple[str, list[HandleValue]]]]:
    batch: list[tuple[str, list[HandleValue]]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def load_products(database_url: str, products: int, *, http_port: int,
                        prefixes: Mapping[str, str], progress: Progress) -> list[str]:
    """Store ``products`` demo products (with parts and batches); their handles."""
    page = f"http://127.0.0.1:{http_port}/trace/{{handle}}"
    names: list[str] = []
    store = await HandleStore.open(database_url)
    started = last = time.monotonic()
    try:
        for batch in _batches(generate(products, prefixes=prefixes, page_url=page)):
            await store.bulk_put(batch, actor="benchmark", overwrite=True, validated=True)
            names.extend(name for name, _ in batch)
            if time.monotonic() - last > 10:
                last = time.monotonic()
                progress(f"  loaded {len(names)} records "
                         f"({len(names) / (last - started):.0f}/s)")
    finally:
        await store.close()
    return names


def init_node(data_dir: Path, *, database_url: str, handle_port: int, http_port: int,
              products: int, progress: Progress, node_prefix: str = "88.118",
              prefixes: Mapping[str, str] = DEMO_PREFIXES, demo: bool = True) -> list[str]:
    """A fresh node in ``data_dir`` (database ``database_url``) with ``products`` products.

    ``demo`` onboards the demo enterprises (their prefixes under ``node_prefix``);
    without it the records go straight under the node's own prefix.
    """
    args = ["init", "--prefix", node_prefix, "--handle-port", str(handle_port),
            "--http-port", str(http_port)]
    if demo:
        args += ["--demo", "--demo-products", "0"]
    run_idnode(data_dir, *args, env={"IDNODE_DATABASE_URL": database_url})
    started = time.monotonic()
    names = asyncio.run(load_products(database_url, products, http_port=http_port,
                                      prefixes=prefixes, progress=progress))
    progress(f"  {len(names)} records of {products} products stored in "
             f"{time.monotonic() - started:.0f} s")
    return names
