"""Redis stopped under an ``idnode serve`` that uses it: resolution and writes go on.

The node shares its cache (and REST sessions) through a private
``redis-server``.  After the cache is warm the server is killed: hot, cold and
missing handles still resolve over Handle UDP, Handle TCP and REST, writes are
still acknowledged and read back at once (the local cache is invalidated even
though the invalidation cannot be published), and when Redis comes back the
node uses it again.  Every acknowledged write is stored.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis

from benchmarks.soak import HOT, PREFIX, Ledger, Target, generation_of, handle_writer, rest_writer
from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from resolver.core.client import HandleClient
from tests.faults._node import NodeProcess, seed
from tests.faults._services import PrivateRedis

COLD = 200
READS = 60


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A running private redis-server, killed afterwards."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


async def _resolve_mix(target: Target, seed_: int) -> list[str]:
    """:data:`READS` reads of hot/cold/missing names over UDP, TCP and REST; the problems."""
    rng, problems = random.Random(seed_), []
    clients = {"udp": HandleClient(timeout=5.0, attempts=1),
               "tcp": HandleClient(timeout=5.0, attempts=1, udp=False)}
    for i in range(READS):
        name, expected = target.pick(rng)
        transport = ("udp", "tcp", "rest")[i % 3]
        if transport == "rest":
            async with target.http.get(f"/api/handles/{name}") as response:
                code = (await response.json())["responseCode"]
        else:
            code = (await clients[transport].resolve(name, server=target.address)).response_code
        if code != expected:
            problems.append(f"{transport} {name}: {code}, expected {expected}")
    return problems


async def test_redis_down_resolution_and_writes_continue(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node", {"IDNODE_REDIS_URL": private_redis.url})
    await seed(node.database_url, cold=COLD)
    await node.start_async()
    ledger, stop = Ledger(), asyncio.Event()
    client = HandleClient(timeout=5.0, attempts=1)
    try:
        async with aiohttp.ClientSession(node.base_url,
                                         timeout=aiohttp.ClientTimeout(total=20)) as http:
            target = Target(node.address, http, COLD)
            assert await _resolve_mix(target, 1) == []
            with redis.Redis.from_url(private_redis.url) as shared:
                assert shared.dbsize() > 0, "the node caches in Redis while it is up"

            await asyncio.to_thread(private_redis.stop)
            assert await _resolve_mix(target, 2) == []
            await handle_writer("down-hdl", node.address, ledger, stop, limit=3)
            await rest_writer("down-rest", http, ledger, stop, limit=3)
            for name, generation in ledger.acked.items():  # a write is seen at once
                res = await client.resolve(name, server=node.address)
                assert res.response_code == RC_SUCCESS and generation_of(res.values) == generation
            missing = await client.resolve(f"{PREFIX}/never-{HOT}", server=node.address)
            assert missing.response_code == RC_HANDLE_NOT_FOUND

            await asyncio.to_thread(private_redis.start)
            await handle_writer("back", node.address, ledger, stop, limit=2)
            assert await _resolve_mix(target, 3) == []
            with redis.Redis.from_url(private_redis.url) as shared:
                for attempt in range(90):  # > 45 s: the breaker pauses Redis 30 s at most
                    if shared.dbsize() > 0:
                        break
                    assert await _resolve_mix(target, 4 + attempt) == []
                    await asyncio.sleep(0.5)
                assert shared.dbsize() > 0, "the node uses Redis again once it is back"

        store = await node.open_store()
        try:
            assert await ledger.check(store) == []
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(node.stop)
