"""Resolution reads on a real PostgreSQL streaming replica: lag, read-your-write, death.

A private primary cluster and a hot standby made from it with
``pg_basebackup -R`` (both under /tmp, deleted afterwards; the suite's shared
cluster is not copied: a base backup of it would copy every other test run's
data).  The store reads resolutions from the replica; a replica whose replay
is paused falls behind, is measured as lagging and taken out, and comes back
when it caught up; a handle the resolution stack saw written is read from the
primary even while the replica still holds the old record; a replica killed
under load costs no request (the primary answers).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from benchmarks.soak import PREFIX, record_values
from protocol.constants import RC_SUCCESS
from registry.replicas import ReadReplicas
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError
from resolver.core.stack import ResolutionStack
from tests.faults._node import NodeProcess, seed
from tests.faults._services import PrivatePostgres, postgres_available

NAME = f"{PREFIX}/replicated"
COLD = 200
WAIT = 30.0


@pytest.fixture
def replicated() -> Iterator[tuple[PrivatePostgres, PrivatePostgres]]:
    """A running private primary and a streaming replica of it, deleted afterwards."""
    if not postgres_available():
        reason = "no PostgreSQL binaries, runuser or root to make private clusters"
        if os.environ.get("CI") == "true":
            pytest.fail(f"required service missing on CI: {reason}", pytrace=False)
        pytest.skip(reason)
    primary = PrivatePostgres()
    replica: PrivatePostgres | None = None
    try:
        primary.start()
        replica = PrivatePostgres(standby_of=primary)
        replica.start()
        yield primary, replica
    finally:
        if replica is not None:
            replica.close()
        primary.close()


async def _until(what: str, check: object) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


def _handles_on(replica: PrivatePostgres) -> int:
    """How many handles the replica has replayed so far; 0 while it has not yet
    replayed the migration that creates the table (a busy machine can get there first)."""
    if replica.sql("SELECT to_regclass('handles') IS NOT NULL") is not True:
        return 0
    count = replica.sql("SELECT count(*) FROM handles")
    assert isinstance(count, int)
    return count


def _data(values: tuple[object, ...]) -> list[str]:
    return [v.data.decode() for v in values if v.type == "URL"]  # type: ignore[attr-defined]


async def test_lag_is_measured_and_written_handles_read_from_the_primary(
    replicated: tuple[PrivatePostgres, PrivatePostgres],
) -> None:
    primary, replica = replicated
    writer = await HandleStore.open(primary.url)
    await writer.create_handle(NAME, list(record_values(NAME, 1)), actor="test")
    store = await HandleStore.open(primary.url, migrate=False, read_urls=[replica.url],
                                   read_max_lag=60.0, read_check_seconds=0.2)
    replicas = store.replicas
    assert replicas is not None
    try:
        async def replayed() -> bool:
            return _handles_on(replica) == 1
        await _until("the replica has the handle", replayed)
        await replicas.check()
        assert replicas.describe()[0]["in_use"], replicas.describe()
        stack = ResolutionStack(store, cache_size=0)
        first = await stack.answer(NAME)
        assert replicas.replicas[0].reads == 1
        assert _data(first.values) == _data(record_values(NAME, 1))

        # the replica stops replaying: it still answers, with the old record
        replica.sql("SELECT pg_wal_replay_pause()")
        await writer.replace_handle(NAME, list(record_values(NAME, 2)), actor="test")
        stack.forget([NAME])  # what the change feed or Redis tells a serving process
        second = await stack.answer(NAME)
        assert _data(second.values) == _data(record_values(NAME, 2))
        assert replicas.replicas[0].reads == 1  # the primary answered
        assert replica.sql("SELECT version FROM handles") == 1  # the replica's is old

        # lag over the bound takes the replica out; caught up, it is used again
        replicas.max_lag = 0.5

        async def out() -> bool:
            await replicas.check()
            return not replicas.replicas[0].healthy
        await _until("the lagging replica is taken out", out)
        assert "lags" in replicas.replicas[0].problem
        assert replicas.replicas[0].lag_bytes
        reads = replicas.replicas[0].reads
        assert await store.get_handle("88.118.8/absent", replica=True) is None
        assert replicas.replicas[0].reads == reads
        replica.sql("SELECT pg_wal_replay_resume()")

        async def back() -> bool:
            await replicas.check()
            return replicas.replicas[0].healthy
        await _until("the replica is used again", back)
        assert replicas.replicas[0].lag_seconds == 0.0

        not_standby = ReadReplicas(store.engine, [primary.url])
        await not_standby.check()
        await not_standby.close()
        assert not_standby.in_use() == 0
        assert "not a standby" in not_standby.describe()[0]["problem"]
    finally:
        await store.close()
        await writer.close()


async def _metric(http: aiohttp.ClientSession, name: str) -> float:
    async with http.get("/metrics") as response:
        text = await response.text()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def _resolve_loop(client: HandleClient, node: NodeProcess, stop: asyncio.Event,
                        worst: list[float], failures: list[str], offset: int) -> None:
    done = offset
    while not stop.is_set():
        name = f"{PREFIX}/cold-{done % COLD}"
        started = time.monotonic()
        try:
            res = await client.resolve(name, server=node.address)
            if res.response_code != RC_SUCCESS:
                failures.append(f"{name}: {res.response_code}")
        except HandleClientError as exc:
            failures.append(f"{name}: {exc!r}")
        worst.append(time.monotonic() - started)
        done += 7


async def test_replica_killed_under_load_costs_no_request(
    replicated: tuple[PrivatePostgres, PrivatePostgres], tmp_path: Path,
) -> None:
    primary, replica = replicated
    await seed(primary.url, cold=COLD)
    node = NodeProcess(tmp_path / "node", env={
        "IDNODE_DATABASE_URL": primary.url, "IDNODE_DATABASE_READ_URLS": replica.url,
        "IDNODE_DATABASE_READ_CHECK_SECONDS": "0.2", "IDNODE_CACHE_SIZE": "0",
    })

    async def caught_up() -> bool:
        count = await asyncio.to_thread(_handles_on, replica)
        return count == COLD + 20 + 2  # cold, hot, the soak's and nobody's handles
    await node.start_async()
    stop = asyncio.Event()
    failures: list[str] = []
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession(node.base_url) as http:
            assert await _metric(http, "idnode_db_replicas_in_use") == 1
            client = HandleClient(timeout=5.0)
            loops = [asyncio.create_task(
                _resolve_loop(client, node, stop, latencies, failures, i)) for i in range(4)]

            async def replica_reads() -> bool:
                return await _metric(http, "idnode_db_replica_reads") > 0
            await _until("the replica answers resolutions", replica_reads)
            await asyncio.to_thread(replica.stop, "immediate")
            kill_index = len(latencies)
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*loops)
            assert await _metric(http, "idnode_db_replicas_in_use") == 0
        after = latencies[kill_index:]
        assert not failures, failures[:5]
        assert after
        status = await asyncio.to_thread(node.run, "--json", "status")
        assert '"in_use": false' in status.stdout, status.stdout
        print(f"replica killed: {len(after)} reads after it, all answered; "
              f"slowest {max(after) * 1000:.0f} ms")
    finally:
        stop.set()
        node.stop()
