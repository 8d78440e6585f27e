"""Redis Sentinel failover under load: the cache follows the new master, no invalidation lost.

Private servers only (the suite's shared Redis is not touched): a master, two
replicas and three sentinels (quorum 2, master down after 1 s), all
``redis-server`` processes.  Two resolution stacks stand for two serving
processes of one node, both reaching Redis through the sentinels with
``wait_replicas=1``: one keeps writing handles and invalidating them, both keep
resolving (filling Redis), the second also follows the change feed as a
serving process does.  The master is killed (SIGKILL) in the middle.
Afterwards no handle is served older than its last write, neither from a
process's memory nor from the promoted master's copy, and every invalidation
Redis did not confirm during the failover was confirmed later.  The failover
time is printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from benchmarks.soak import record_values
from registry.names import name_key
from registry.store import HandleStore
from resolver.core.change_feed import ChangeFollower
from resolver.core.redis_cache import TOMBSTONE, RedisCache, decode_answer
from resolver.core.redis_link import RedisLink
from resolver.core.stack import LOCAL, ResolutionStack
from tests.faults._services import PrivateRedis

NAMES = [f"88.118.8/sentinel-{i}" for i in range(12)]
WAIT = 30.0


def _sync(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)


def _until(what: str, check: object, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture
def sentinel_set() -> Iterator[tuple[PrivateRedis, list[PrivateRedis], list[PrivateRedis]]]:
    """A master, two replicas and three sentinels that know each other; all killed after."""
    started: list[PrivateRedis] = []
    try:
        master = PrivateRedis()
        started.append(master)
        master.start()
        replicas = [PrivateRedis(replica_of=master.port) for _ in range(2)]
        started += replicas
        for replica in replicas:
            replica.start()
        sentinels = [PrivateRedis(sentinel_of=master.port) for _ in range(3)]
        started += sentinels
        for sentinel in sentinels:
            sentinel.start()

        def ready() -> bool:
            info = _sync(master.port).info("replication")
            known = [_sync(s.port).execute_command("SENTINEL", "SENTINELS", "mymaster")
                     for s in sentinels]
            return info.get("connected_slaves") == 2 and all(len(k) == 2 for k in known)
        _until("the replicas and sentinels are connected", ready)
        yield master, replicas, sentinels
    finally:
        for server in started:
            server.close()


def _master_port(sentinels: list[PrivateRedis]) -> int | None:
    for sentinel in sentinels:
        try:
            address = _sync(sentinel.port).execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        except redis.RedisError:
            continue
        if address:
            return int(address[1])
    return None


async def test_master_killed_under_load_loses_no_invalidation(
    sentinel_set: tuple[PrivateRedis, list[PrivateRedis], list[PrivateRedis]], tmp_path: Path,
) -> None:
    master, _replicas, sentinels = sentinel_set
    link = RedisLink.parse("redis://127.0.0.1/0", [f"127.0.0.1:{s.port}" for s in sentinels],
                           "mymaster")
    prefix = f"test:{uuid.uuid4().hex}:"
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    generation = dict.fromkeys(NAMES, 0)
    for name in NAMES:
        await store.create_handle(name, list(record_values(name, 0)), actor="test")
    writer_cache = RedisCache(link, prefix=prefix, wait_replicas=1, stale_window=60)
    reader_cache = RedisCache(link, prefix=prefix, wait_replicas=1, stale_window=60)
    writer = ResolutionStack(store, redis=writer_cache)
    reader = ResolutionStack(store, redis=reader_cache)
    writer.start()
    reader.start()
    follower = ChangeFollower(store, reader)
    await follower.start()
    follow = asyncio.create_task(follower.run())
    stop = asyncio.Event()
    confirmed_at: list[float] = []
    rng = random.Random(7)

    async def write() -> None:
        while not stop.is_set():
            name = rng.choice(NAMES)
            generation[name] += 1
            await store.replace_handle(name, list(record_values(name, generation[name])),
                                       actor="test")
            unconfirmed = writer_cache.unconfirmed
            await writer.invalidate([name])
            if writer_cache.unconfirmed == unconfirmed:
                confirmed_at.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def read(stack: ResolutionStack) -> None:
        while not stop.is_set():
            await stack.answer(rng.choice(NAMES))
            await asyncio.sleep(0.002)

    try:
        for name in NAMES:
            await reader.answer(name)
        loops = [asyncio.create_task(write()), asyncio.create_task(read(reader)),
                 asyncio.create_task(read(writer))]
        await asyncio.sleep(1.0)
        old_port = master.port
        killed = time.monotonic()
        await asyncio.to_thread(master.stop)
        await asyncio.to_thread(_until, "a sentinel names a new master",
                                lambda: _master_port(sentinels) not in (None, old_port))
        promoted = time.monotonic()

        def confirmed_again() -> bool:
            return bool(confirmed_at) and confirmed_at[-1] > promoted
        await asyncio.to_thread(_until, "an invalidation is confirmed again", confirmed_again)
        recovered = time.monotonic()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*loops)
        await asyncio.to_thread(_until, "every delayed invalidation is confirmed",
                                lambda: writer_cache.pending == 0)
        await follower.poll()

        new_master = _sync(_master_port(sentinels) or 0)
        for name in NAMES:
            current = [v.data for v in record_values(name, generation[name])]
            answer = await reader.answer(name)
            assert [v.data for v in answer.values] == current, name
            shared = new_master.get(f"{prefix}a:{LOCAL}{name_key(name)}")
            if shared is not None and shared != TOMBSTONE:
                assert [v.data for v in decode_answer(shared).values] == current, name
        print(f"redis master killed: sentinel named the new master after "
              f"{promoted - killed:.2f} s; invalidations confirmed again after "
              f"{recovered - killed:.2f} s; {writer_cache.unconfirmed} invalidations "
              f"confirmed late, none lost")
        assert writer_cache.unconfirmed > 0  # the failover was seen by the writer
    finally:
        stop.set()
        follow.cancel()
        await writer.close()
        await reader.close()
        await store.close()
        new_port = _master_port(sentinels)
        if new_port:
            keys = list(_sync(new_port).scan_iter(match=f"{prefix}*"))
            if keys:
                _sync(new_port).delete(*keys)
