"""kill -9 of ``idnode serve`` during concurrent authenticated writes, then a restart.

Three Handle-protocol writers (secret-key challenge) and three REST writers
(Basic auth) create and modify handles as fast as the node lets them; once
enough writes were acknowledged the node gets SIGKILL with writes in flight.
After a restart, on SQLite and on PostgreSQL:

* every acknowledged write is in the registry (at its generation or a later
  one that was also sent);
* every stored record is one a writer sent, whole (all values of one
  generation), and no handle appears that no writer asked for;
* the restarted node serves them over the Handle protocol and REST;
* ``idnode audit verify`` walks the whole hash chain without a break.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from benchmarks.soak import HOT, PREFIX, Ledger, generation_of, handle_writer, rest_writer
from resolver.core.client import HandleClient
from tests._services import PgDatabase
from tests.faults._node import NOBODY, NodeProcess, seed

WRITERS = 3
ACKS_BEFORE_KILL = 20
LOAD_TIMEOUT = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> NodeProcess:
    """A node data dir on each backend (PostgreSQL: a fresh schema of the shared server)."""
    if request.param == "sqlite":
        return NodeProcess(tmp_path / "node")
    pg: PgDatabase = request.getfixturevalue("pg_url")
    return NodeProcess(tmp_path / "node", {"IDNODE_DATABASE_URL": pg.url,
                                           "IDNODE_DATABASE_SCHEMA": pg.schema})


async def _load_then_kill(node: NodeProcess, ledger: Ledger) -> None:
    """Run the writers until :data:`ACKS_BEFORE_KILL` acks, SIGKILL the node, reap them."""
    stop = asyncio.Event()
    async with aiohttp.ClientSession(node.base_url,
                                     timeout=aiohttp.ClientTimeout(total=20)) as http:
        tasks = [asyncio.create_task(handle_writer(f"hdl{i}", node.address, ledger, stop))
                 for i in range(WRITERS)]
        tasks += [asyncio.create_task(rest_writer(f"rest{i}", http, ledger, stop))
                  for i in range(WRITERS)]
        deadline = time.monotonic() + LOAD_TIMEOUT
        while len(ledger.acked) < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
            await asyncio.sleep(0.02)
        in_flight = sum(len(tried) for tried in ledger.attempted.values()) - sum(
            ledger.acked.values())
        await asyncio.to_thread(node.kill)
        stop.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert len(ledger.acked) >= ACKS_BEFORE_KILL
    assert in_flight > 0, "the kill should land with writes in flight"
    assert all(isinstance(o, Exception) for o in outcomes), "every writer saw the node die"


async def test_kill_9_during_writes_loses_no_acknowledged_write(node: NodeProcess) -> None:
    await seed(node.database_url, node.schema)
    await node.start_async()
    ledger = Ledger()
    try:
        await _load_then_kill(node, ledger)
        await node.start_async()

        store = await node.open_store()
        try:
            assert await ledger.check(store) == []
            stored = set(await store.list_handles(PREFIX, page_size=10_000))
        finally:
            await store.close()
        seeded = {NOBODY} | {f"{PREFIX}/hot-{i}" for i in range(HOT)}
        assert stored - seeded <= set(ledger.attempted)

        client = HandleClient(timeout=5.0, attempts=1)
        async with aiohttp.ClientSession(node.base_url) as http:
            for name, generation in list(ledger.acked.items())[:10]:
                res = await client.resolve(name, server=node.address)
                assert (generation_of(res.values) or 0) >= generation
                async with http.get(f"/api/handles/{name}") as response:
                    assert response.status == 200

        audit = await asyncio.to_thread(node.run, "--json", "audit", "verify")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert json.loads(audit.stdout)["ok"] is True
    finally:
        await asyncio.to_thread(node.stop)
