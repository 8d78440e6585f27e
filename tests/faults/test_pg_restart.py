"""PostgreSQL restarted under load: cached reads keep working, the node reconnects.

A private PostgreSQL cluster (never the shared one) backs an ``idnode serve``.
With the hot handles cached, resolvers keep asking over Handle UDP and REST
while the cluster is stopped and started again: every read of a cached handle
succeeds throughout; a write during the outage fails with RC_ERROR (never a
hang), and once PostgreSQL is back, writes and uncached reads work again
without restarting the node: SQLAlchemy drops every pooled connection at the
first disconnect error, so at most one request fails after the outage.
Every acknowledged write is stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from benchmarks.soak import ADMIN, HOT, PREFIX, Ledger, handle_writer, record_values
from protocol.constants import RC_SUCCESS
from resolver.core.client import HandleClient, HandleClientError
from tests.faults._node import NodeProcess, seed
from tests.faults._services import PrivatePostgres, postgres_available

RECOVERY_TIMEOUT = 30.0
HOT_NAMES = [f"{PREFIX}/hot-{i}" for i in range(HOT)]


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL cluster, deleted afterwards."""
    if not postgres_available():
        pytest.skip("no PostgreSQL binaries, runuser or root to make a private cluster")
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


async def _read_hot(client: HandleClient, http: aiohttp.ClientSession, node: NodeProcess,
                    stop: asyncio.Event, failures: list[str]) -> int:
    """Resolve the hot handles round robin (UDP, then REST) until ``stop``; reads done."""
    done = 0
    while not stop.is_set():
        name = HOT_NAMES[done % HOT]
        try:
            res = await client.resolve(name, server=node.address)
            assert res.response_code == RC_SUCCESS, res
            async with http.get(f"/api/handles/{name}") as response:
                assert response.status == 200, await response.text()
        except (AssertionError, HandleClientError, aiohttp.ClientError) as exc:
            failures.append(f"{name}: {exc!r}")
        done += 1
        await asyncio.sleep(0.005)
    return done


async def _write_until_ok(client: HandleClient, node: NodeProcess, name: str) -> int:
    """Create ``name`` until the node acknowledges it; the failed attempts before."""
    started = time.monotonic()
    for failed in range(1000):
        try:
            await client.create_handle(name, record_values(name, 1), server=node.address,
                                       auth=ADMIN)
            return failed
        except HandleClientError:
            if time.monotonic() - started > RECOVERY_TIMEOUT:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable: the deadline ends the loop")


async def test_postgres_restart_under_load(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node", {"IDNODE_DATABASE_URL": private_pg.url,
                                           "IDNODE_DATABASE_SCHEMA": "idnode"})
    await seed(node.database_url, node.schema)
    await node.start_async()
    client = HandleClient(timeout=10.0, attempts=1)
    ledger, stop, failures = Ledger(), asyncio.Event(), list[str]()
    try:
        async with aiohttp.ClientSession(node.base_url,
                                         timeout=aiohttp.ClientTimeout(total=20)) as http:
            await handle_writer("before", node.address, ledger, stop, limit=3)
            readers = [asyncio.create_task(_read_hot(client, http, node, stop, failures))
                       for _ in range(3)]
            await asyncio.sleep(1.0)  # every hot handle is cached by now

            await asyncio.to_thread(private_pg.stop, "fast")
            with pytest.raises(HandleClientError) as refused:
                await client.create_handle(f"{PREFIX}/during", record_values("d", 1),
                                           server=node.address, auth=ADMIN)
            assert refused.value.response_code != RC_SUCCESS and refused.value.message
            await asyncio.sleep(2.0)  # reads go on from the cache meanwhile
            await asyncio.to_thread(private_pg.start)

            recovery = await _write_until_ok(client, node, f"{PREFIX}/after-restart")
            ledger.ack(f"{PREFIX}/after-restart", 1)
            ledger.attempted[f"{PREFIX}/after-restart"].add(1)
            await handle_writer("after", node.address, ledger, stop, limit=3)
            stop.set()
            reads = sum(await asyncio.gather(*readers))
        assert failures == [], failures[:5]
        assert reads > 50
        # the stale pooled connections are dropped together on the first disconnect error
        assert recovery <= 1
        uncached = await client.resolve(f"{PREFIX}/before-2", server=node.address)
        assert uncached.response_code == RC_SUCCESS

        store = await node.open_store()
        try:
            assert await ledger.check(store) == []
            assert await store.get_handle(f"{PREFIX}/during") is None
        finally:
            await store.close()
    finally:
        stop.set()
        await asyncio.to_thread(node.stop)
