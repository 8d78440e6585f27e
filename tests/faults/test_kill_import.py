"""kill -9 of ``idnode import`` next to a serving node on PostgreSQL, then a resumed import.

``tests/admin/test_bulk_cli.py`` covers the CLI's own guarantee (resume after
kill -9 on SQLite, no duplicate rows).  This test is about the node: the
import runs against the registry of a live ``idnode serve`` on PostgreSQL
while clients keep resolving and writing through the node.  The import is
killed mid-way and run again; then the registry holds exactly the input
records (every handle once, every value once, the data as in the file), the
node's own acknowledged writes are all there, the node served every read
throughout and serves the imported handles, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from benchmarks.soak import HOT, PREFIX, Ledger, handle_writer
from protocol.constants import RC_SUCCESS
from resolver.core.client import HandleClient
from tests._services import PgDatabase
from tests.admin.test_bulk_cli import kill_once_committed, write_csv
from tests.faults._node import NodeProcess, seed

HANDLES = 30_000  # long enough (seconds) that a progress line shows a part done
VALUES = 2
BATCH = "500"


def _import_until_killed(node: NodeProcess, source: Path) -> int:
    """Start ``idnode import``, SIGKILL it once a batch is committed; rows committed."""
    return kill_once_committed(node.cli("import", str(source), "--batch", BATCH),
                               env=node.environment())


async def _keep_reading(node: NodeProcess, stop: asyncio.Event) -> tuple[int, list[str]]:
    """Resolve the hot handles until ``stop``: reads done, failures."""
    client, done, failures = HandleClient(timeout=10.0, attempts=1), 0, list[str]()
    while not stop.is_set():
        name = f"{PREFIX}/hot-{done % HOT}"
        res = await client.resolve(name, server=node.address)
        if res.response_code != RC_SUCCESS:
            failures.append(f"{name}: {res.response_code}")
        done += 1
        await asyncio.sleep(0.01)
    return done, failures


async def _check_imported(node: NodeProcess) -> None:
    """Exactly the input records are stored, and the node serves them."""
    store = await node.open_store()
    try:
        found = 0
        async for record in store.iter_handles(PREFIX):
            suffix = record.name.split("/", 1)[1]
            if not suffix.startswith("P-"):
                continue
            found += 1
            n = int(suffix[2:])
            assert [(v.index, v.type, v.data) for v in record.values] == [
                (1, "URL", f"https://p.example/{n}/1".encode()),
                (2, "NOTE", f"https://p.example/{n}/2".encode()),
            ]
        assert found == HANDLES
    finally:
        await store.close()
    client = HandleClient(timeout=10.0, attempts=1)
    async with aiohttp.ClientSession(node.base_url) as http:
        for n in (0, HANDLES // 2, HANDLES - 1):
            name = f"{PREFIX}/P-{n:07d}"
            assert (await client.resolve(name, server=node.address)).response_code == RC_SUCCESS
            async with http.get(f"/api/handles/{name}") as response:
                assert (await response.json())["responseCode"] == RC_SUCCESS


async def test_kill_9_during_import_next_to_a_serving_node(pg_url: PgDatabase,
                                                           tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node", {"IDNODE_DATABASE_URL": pg_url.url,
                                           "IDNODE_DATABASE_SCHEMA": pg_url.schema})
    source = tmp_path / "products.csv"
    rows = write_csv(source, HANDLES, VALUES)
    await seed(node.database_url, node.schema)
    await node.start_async()
    ledger, stop = Ledger(), asyncio.Event()
    try:
        reading = asyncio.create_task(_keep_reading(node, stop))
        writing = asyncio.create_task(handle_writer("live", node.address, ledger, stop))
        committed = await asyncio.to_thread(_import_until_killed, node, source)
        assert 0 < committed < rows, "the import should have been killed midway"
        resumed = await asyncio.to_thread(node.run, "--json", "import", str(source),
                                          "--batch", BATCH, "--quiet")
        stop.set()
        reads, failures = await reading
        await writing
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["resumed_from"] >= committed
        assert (summary["rows_done"], summary["rejected"]) == (rows, 0)
        assert reads > 0 and failures == []

        await _check_imported(node)
        store = await node.open_store()
        try:
            assert await ledger.check(store) == []
        finally:
            await store.close()
        audit = await asyncio.to_thread(node.run, "--json", "audit", "verify")
        assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout
    finally:
        stop.set()
        await asyncio.to_thread(node.stop)
