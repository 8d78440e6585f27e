"""A ChangeFollower drops from its process's cache what other writers changed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from protocol.values import HandleValue
from registry.changes import RETENTION_SECONDS
from registry.store import HandleStore
from resolver.core.cache import Kind
from resolver.core.change_feed import ChangeFollower
from resolver.core.stack import LOCAL, ResolutionStack

TV = "88.118.8/TV-0001"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def url(text: str) -> HandleValue:
    return HandleValue(1, "URL", text.encode())


@pytest.fixture
async def writer(sqlite_url: str) -> AsyncIterator[HandleStore]:
    """Another process's store on the same registry (the CLI, another worker)."""
    store = await HandleStore.open(sqlite_url)
    await store.create_handle(TV, [url("https://old")], actor="cli")
    yield store
    await store.close()


@pytest.fixture
async def reader(writer: HandleStore, sqlite_url: str) -> AsyncIterator[HandleStore]:
    store = await HandleStore.open(sqlite_url, migrate=False)
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def follower(reader: HandleStore, clock: Clock) -> ChangeFollower:
    """A serving process's cache over ``reader``, following the feed from now on."""
    started = ChangeFollower(reader, ResolutionStack(reader), clock=clock)
    await started.start()
    return started


async def data(stack: ResolutionStack, handle: str) -> bytes | None:
    answer = await stack.answer(handle)
    return answer.values[0].data if answer.kind is Kind.FOUND else None


async def test_another_writers_change_is_dropped_on_the_next_poll(
    writer: HandleStore, follower: ChangeFollower
) -> None:
    stack = follower.stack
    assert await data(stack, TV) == b"https://old"
    await writer.replace_handle(TV, [url("https://new")], actor="cli")
    assert await data(stack, TV) == b"https://old"  # cached: the TTL is a day
    assert await follower.poll() == 1
    assert await data(stack, TV) == b"https://new"
    assert await follower.poll() == 0


async def test_a_prefix_change_drops_negative_answers(
    writer: HandleStore, follower: ChangeFollower
) -> None:
    stack = follower.stack
    pump = "88.118.9/PUMP"
    assert (await stack.answer(pump)).kind is Kind.ABSENT
    assert stack.fresh(LOCAL + pump) is not None
    await writer.create_prefix("88.118.9")  # no handle under it changed
    assert await follower.poll() == 1
    assert stack.fresh(LOCAL + pump) is None


async def test_a_follower_that_fell_behind_the_feed_clears_its_cache(
    follower: ChangeFollower, clock: Clock
) -> None:
    stack = follower.stack
    await data(stack, TV)
    assert stack.fresh(LOCAL + TV) is not None
    clock.now += RETENTION_SECONDS  # rows it never read may be pruned by now
    assert await follower.poll() == 0
    assert stack.fresh(LOCAL + TV) is None
