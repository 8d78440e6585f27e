"""The shared Redis level: filled by one process, read by another, invalidated everywhere.

Two ResolutionStacks with their own local caches stand for two node
processes; they share the store and a Redis key prefix.  Outages use a dead
port or a private redis-server on an ephemeral port (the shared one on 6379
is never stopped).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.cache import Answer, Kind
from resolver.core.redis_cache import RedisCache, decode_answer, encode_answer
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack
from tests.resolver.core.test_cache import ADMIN, TV, FakeClock, url

WAIT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node(store: HandleStore, redis_url: str, prefix: str, clock: FakeClock) -> ResolutionService:
    """One node process's service: its own local cache, the shared Redis."""
    redis = RedisCache(redis_url, prefix=prefix, stale_window=600, clock=clock)
    stack = ResolutionStack(store, negative_ttl=30, stale_if_error=600, redis=redis, clock=clock)
    stack.start()
    return ResolutionService(store, server_admins=[(ADMIN.handle or "", 300)], answers=stack)


def stack_of(service: ResolutionService) -> ResolutionStack:
    assert service.answers is not None
    return service.answers


async def subscribed(redis_url: str, prefix: str, count: int) -> None:
    """Wait until ``count`` processes listen on the invalidation channel."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(WAIT):
            while True:
                (_, listening), = await client.pubsub_numsub(f"{prefix}invalidate")
                if listening >= count:
                    return
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def pair(
    database: HandleStore, redis_url: str, redis_prefix: str, clock: FakeClock
) -> AsyncIterator[tuple[ResolutionService, ResolutionService]]:
    first = node(database, redis_url, redis_prefix, clock)
    second = node(database, redis_url, redis_prefix, clock)
    await subscribed(redis_url, redis_prefix, 2)
    yield first, second
    await first.close()
    await second.close()


def test_answers_survive_the_wire_encoding() -> None:
    answer = Answer(Kind.FOUND, (url(1, "a"), url(2, "b", public_read=False)), 12.5,
                    "127.0.0.1:2641", ("88.118.9/X@local", "88.118.9/X@127.0.0.1:2641"), False)
    assert decode_answer(encode_answer(answer)) == answer
    absent = Answer(Kind.ABSENT, (), 3.0)
    assert decode_answer(encode_answer(absent)) == absent


async def test_one_process_fills_the_other_reads_without_sql(
    database: HandleStore, pair: tuple[ResolutionService, ResolutionService]
) -> None:
    first, second = pair
    await database.create_handle(TV, [url(1, "a")], actor="test")
    assert (await first.resolve(TV)).response_code == RC_SUCCESS
    assert (await first.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    before = database.query_count
    assert (await second.resolve(TV)).values[0].data == b"a"
    assert (await second.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    assert database.query_count == before
    assert stack_of(second).counters["redis_hits"] == 2


async def test_not_found_lives_in_redis_for_the_negative_ttl_only(
    database: HandleStore, redis_url: str, pair: tuple[ResolutionService, ResolutionService]
) -> None:
    first, _ = pair
    await database.create_handle(TV, [url(1, "a")], actor="test")
    await first.resolve(TV)
    await first.resolve("88.118.8/none")
    redis = stack_of(first).redis
    assert redis is not None
    client = aioredis.Redis.from_url(redis_url)
    try:
        found = await client.pttl(redis.key("l:" + TV.upper()))
        missing = await client.pttl(redis.key("l:88.118.8/NONE"))
    finally:
        await client.aclose()
    assert 0 < missing <= 30_000 < 600_000 < found  # negative_ttl 30 s; ttl 100 s + stale 600 s


async def test_secret_keys_never_reach_redis(
    database: HandleStore, pair: tuple[ResolutionService, ResolutionService]
) -> None:
    first, second = pair
    secret = HandleValue(index=300, type="HS_SECKEY", data=b"s3cret", public_read=False)
    await database.create_handle("0.NA/88.118.8", [url(1, "a"), secret], actor="test")
    await first.resolve("0.NA/88.118.8")
    assert await stack_of(first).redis.get("l:0.NA/88.118.8") is None  # type: ignore[union-attr]
    before = database.query_count
    await second.resolve("0.NA/88.118.8")
    assert database.query_count > before


async def test_a_write_in_one_process_invalidates_the_other(
    database: HandleStore, pair: tuple[ResolutionService, ResolutionService]
) -> None:
    first, second = pair
    await database.create_handle(TV, [url(1, "old")], actor="test")
    assert (await second.resolve(TV)).values[0].data == b"old"
    await first.modify_values(TV, [url(1, "new")], caller=ADMIN)
    async with asyncio.timeout(WAIT):
        while True:
            if stack_of(second).local.get("l:" + TV.upper()) is None:
                break
            await asyncio.sleep(0.01)
    assert (await second.resolve(TV)).values[0].data == b"new"
    # and a read that raced the write cannot put the old record back into Redis
    stale = Answer(Kind.FOUND, (url(1, "old"),), FakeClock().now + 100)
    await stack_of(second).redis.put("l:" + TV.upper(), stale)  # type: ignore[union-attr]
    third = await stack_of(first).redis.get("l:" + TV.upper())  # type: ignore[union-attr]
    assert third is None or third.values[0].data == b"new"


async def test_a_dead_redis_never_fails_a_resolution(
    database: HandleStore, clock: FakeClock
) -> None:
    service = node(database, f"redis://127.0.0.1:{free_port()}/0", "dead:", clock)
    try:
        await database.create_handle(TV, [url(1, "a")], actor="test")
        assert (await service.resolve(TV)).values[0].data == b"a"
        await service.modify_values(TV, [url(1, "b")], caller=ADMIN)
        assert (await service.resolve(TV)).values[0].data == b"b"
        assert (await service.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    finally:
        await service.close()


@dataclass
class PrivateRedis:
    """A redis-server of this test's own on an ephemeral port, to stop and start again."""

    binary: str
    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url)
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    try:
                        await client.ping()
                        return
                    except (OSError, RedisError):  # still starting
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            await self.process.wait()
            self.process = None


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary, free_port())
    await server.start()
    yield server
    await server.stop()


async def test_resolution_goes_on_when_redis_stops(
    database: HandleStore, private_redis: PrivateRedis, clock: FakeClock
) -> None:
    service = node(database, private_redis.url, "private:", clock)
    try:
        await database.create_handle(TV, [url(1, "a")], actor="test")
        await database.create_handle("88.118.8/B", [url(1, "b")], actor="test")
        assert (await service.resolve(TV)).values[0].data == b"a"
        await private_redis.stop()
        before = database.query_count
        assert (await service.resolve(TV)).values[0].data == b"a"  # local hit
        assert database.query_count == before
        assert (await service.resolve("88.118.8/B")).values[0].data == b"b"  # from the store
        await service.modify_values(TV, [url(1, "c")], caller=ADMIN)
        assert (await service.resolve(TV)).values[0].data == b"c"
    finally:
        await service.close()


async def test_invalidation_resumes_when_redis_is_back(
    database: HandleStore, private_redis: PrivateRedis, clock: FakeClock
) -> None:
    first = node(database, private_redis.url, "back:", clock)
    second = node(database, private_redis.url, "back:", clock)
    try:
        await subscribed(private_redis.url, "back:", 2)
        await database.create_handle(TV, [url(1, "v0")], actor="test")
        await second.resolve(TV)
        await private_redis.stop()
        await private_redis.start()
        # back on the channel, having perhaps missed messages, it forgot its answers
        async with asyncio.timeout(WAIT):
            while True:
                if len(stack_of(second).local) == 0:
                    break
                await asyncio.sleep(0.02)
        await subscribed(private_redis.url, "back:", 2)
        async with asyncio.timeout(WAIT):
            version = 0
            while True:  # the writer's circuit may first need to close again
                version += 1
                await second.resolve(TV)
                await first.modify_values(TV, [url(1, f"v{version}")], caller=ADMIN)
                await asyncio.sleep(0.1)
                if (await second.resolve(TV)).values[0].data == f"v{version}".encode():
                    break
    finally:
        await first.close()
        await second.close()
