"""The in-process level of the resolution stack, against real stores (SQLite and PostgreSQL).

Expiry is driven by an injected clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS, RC_VALUES_NOT_FOUND
from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue
from registry.store import HandleStore
from resolver.core.cache import Answer, Kind, LocalCache, answer_bytes, expiry
from resolver.core.metrics import Metrics
from resolver.core.model import Caller
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack

ADMIN = Caller("0.NA/88.118", 300)
TV = "88.118.8/TV-0001"


@dataclass
class FakeClock:
    """Epoch seconds that only move when a test says so."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def url(index: int, text: str, ttl: int = 100, *, public_read: bool = True) -> HandleValue:
    return HandleValue(
        index=index, type="URL", data=text.encode(), ttl=ttl, public_read=public_read
    )


def make_service(
    store: HandleStore, clock: FakeClock, *, metrics: Metrics | None = None, size: int = 100
) -> ResolutionService:
    stack = ResolutionStack(
        store, cache_size=size, negative_ttl=30, stale_if_error=600, clock=clock,
        metrics=metrics,
    )
    return ResolutionService(store, server_admins=[(ADMIN.handle or "", 300)], answers=stack)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_a_cached_handle_costs_no_query(database: HandleStore, clock: FakeClock) -> None:
    await database.create_handle(TV, [url(1, "a")], actor="test")
    metrics = Metrics()
    service = make_service(database, clock, metrics=metrics)
    assert (await service.resolve(TV)).values[0].data == b"a"
    before = database.query_count
    for _ in range(5):
        res = await service.resolve(TV)
        assert res.response_code == RC_SUCCESS and not res.stale
    assert database.query_count == before
    assert service.answers is not None
    assert service.answers.counters == {"memory_hits": 5, "memory_misses": 1}
    assert 'idnode_cache_hits_total{layer="memory"} 5' in await metrics.render()


@pytest.mark.parametrize("ttl_type", ["relative", "absolute"])
async def test_entries_live_for_the_smallest_ttl(
    database: HandleStore, clock: FakeClock, ttl_type: str
) -> None:
    short = url(1, "a", ttl=20) if ttl_type == "relative" else HandleValue(
        index=1, type="URL", data=b"a", ttl_type=TTL_TYPE_ABSOLUTE, ttl=int(clock.now) + 20
    )
    await database.create_handle(TV, [short, url(2, "b", ttl=3600)], actor="test")
    service = make_service(database, clock)
    await service.resolve(TV)
    before = database.query_count
    clock.now += 19
    await service.resolve(TV)
    assert database.query_count == before
    clock.now += 2
    await service.resolve(TV)
    assert database.query_count > before


async def test_missing_handles_are_cached_for_the_negative_ttl(
    database: HandleStore, clock: FakeClock
) -> None:
    service = make_service(database, clock)
    assert (await service.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    before = database.query_count
    assert (await service.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    assert database.query_count == before
    clock.now += 31
    await service.resolve("88.118.8/none")
    assert database.query_count > before


async def test_a_write_through_the_service_replaces_the_cached_answer(
    database: HandleStore, clock: FakeClock
) -> None:
    service = make_service(database, clock)
    assert (await service.resolve(TV)).response_code == RC_HANDLE_NOT_FOUND
    await service.create_handle(TV, [url(1, "a")], caller=ADMIN)
    assert (await service.resolve(TV)).values[0].data == b"a"
    await service.modify_values(TV, [url(1, "b")], caller=ADMIN)
    assert (await service.resolve(TV)).values[0].data == b"b"
    await service.delete_handle(TV, caller=ADMIN)
    assert (await service.resolve(TV)).response_code == RC_HANDLE_NOT_FOUND


async def test_read_permissions_apply_to_cached_records(
    database: HandleStore, clock: FakeClock
) -> None:
    secret = url(2, "restricted", public_read=False)
    await database.create_handle(TV, [url(1, "open"), secret], actor="test")
    service = make_service(database, clock)
    anonymous = await service.resolve(TV)
    assert [v.index for v in anonymous.values] == [1] and anonymous.withheld == 1
    before = database.query_count
    admin = await service.resolve(TV, caller=ADMIN)
    assert [v.index for v in admin.values] == [1, 2]
    again = await service.resolve(TV, indexes=[2])
    assert again.response_code == RC_VALUES_NOT_FOUND
    assert database.query_count == before


async def test_concurrent_misses_share_one_query(database: HandleStore, clock: FakeClock) -> None:
    await database.create_handle(TV, [url(1, "a")], actor="test")
    service = make_service(database, clock)
    before = database.query_count
    results = await asyncio.gather(*(service.resolve(TV) for _ in range(25)))
    assert {r.values[0].data for r in results} == {b"a"}
    assert database.query_count - before == 1


def test_the_lru_is_bounded_and_keeps_recent_entries() -> None:
    clock = FakeClock()
    cache = LocalCache(2, clock=clock)
    answer = Answer(Kind.ABSENT, (), clock.now + 10)
    cache.put("a", answer)
    cache.put("b", answer)
    assert cache.get("a") is answer  # "a" is now the most recent
    cache.put("c", answer)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is answer


def test_the_lru_is_bounded_in_bytes() -> None:
    clock = FakeClock()
    big = Answer(Kind.FOUND, (url(1, "x" * 4000),), clock.now + 10)
    cache = LocalCache(1000, max_bytes=3 * answer_bytes("k0", big), clock=clock)
    for n in range(10):
        cache.put(f"k{n}", big)
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == 3 and cache.get("k9") is big and cache.get("k6") is None
    huge = Answer(Kind.FOUND, (url(1, "x" * 20000),), clock.now + 10)
    cache.put("k9", huge)  # bigger than the whole cache: not kept, nor the old k9
    assert cache.get("k9") is None and len(cache) == 2


def test_renders_are_charged_to_their_answer_and_go_with_it() -> None:
    clock = FakeClock()
    answer = Answer(Kind.FOUND, (url(1, "a"),), clock.now + 10)
    cache = LocalCache(10, max_bytes=10_000, clock=clock)
    cache.put("k", answer)
    plain = cache.bytes
    assert cache.keep_render("k", answer, "udp", b"d" * 500, 500)
    assert cache.bytes == plain + 500 and answer.renders["udp"] == b"d" * 500
    assert not cache.keep_render("k", answer, "huge", b"", 20_000)
    replaced = Answer(Kind.FOUND, (url(1, "b"),), clock.now + 10)
    cache.put("k", replaced)
    assert cache.bytes == answer_bytes("k", replaced) and not replaced.renders
    assert not cache.keep_render("k", answer, "json", b"{}", 2)  # no longer the cached one
    cache.drop(["k"])
    assert cache.bytes == 0


async def test_a_flood_of_misses_keeps_the_hot_records(
    database: HandleStore, clock: FakeClock
) -> None:
    await database.create_handle(TV, [url(1, "a")], actor="test")
    stack = ResolutionStack(database, cache_size=100, negative_cache_bytes=20_000,
                            negative_ttl=30, clock=clock)
    service = ResolutionService(database, answers=stack)
    await service.resolve(TV)
    for n in range(300):
        assert (await service.resolve(f"88.118.8/nothing-{n}")).response_code == (
            RC_HANDLE_NOT_FOUND
        )
    assert stack.negative.bytes <= 20_000 and len(stack.negative) < 300
    before = database.query_count
    assert (await service.resolve(TV)).values[0].data == b"a"
    assert database.query_count == before


def test_stale_answers_are_kept_for_the_stale_window_only() -> None:
    clock = FakeClock()
    cache = LocalCache(10, stale_window=50, clock=clock)
    cache.put("a", Answer(Kind.FOUND, (url(1, "a", ttl=10),), expiry([url(1, "a", 10)],
                                                                      clock.now, 0)))
    clock.now += 30
    assert cache.get("a") is None and cache.get_stale("a") is not None
    clock.now += 31
    assert cache.get_stale("a") is None and len(cache) == 0


async def test_a_failing_store_serves_the_stale_answer(tmp_path: Path, clock: FakeClock) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        await store.create_handle(TV, [url(1, "a")], actor="test")
        service = make_service(store, clock)
        await service.resolve(TV)
        await store.engine.dispose()
        await store.read_engine.dispose()
        assert store._inline is not None
        store._inline.close()  # and the event loop thread's own reader
        (tmp_path / "registry.db").rename(tmp_path / "moved.db")  # the next query fails
        clock.now += 101
        stale = await service.resolve(TV)
        assert stale.stale and stale.values[0].data == b"a"
        clock.now += 600
        with pytest.raises((SQLAlchemyError, sqlite3.Error)):
            await service.resolve(TV)
    finally:
        await store.close()


async def test_an_answer_invalidated_while_fetched_is_not_kept(
    database: HandleStore, clock: FakeClock
) -> None:
    stack = ResolutionStack(database, clock=clock)
    old = Answer(Kind.FOUND, (url(1, "old"),), clock.now + 100)

    async def fetch_racing_a_write(handle: str) -> Answer:
        await stack.invalidate([handle])  # a write lands while the old record is on its way
        return old

    assert await stack._cached("l:" + TV, TV, fetch_racing_a_write) is old
    assert stack.local.get("l:" + TV) is None


async def test_misses_under_a_known_prefix_cost_one_query(
    database: HandleStore, clock: FakeClock
) -> None:
    await database.create_prefix("88.118", kind="hosted", actor="test")
    stack = ResolutionStack(database, negative_ttl=30, clock=clock)
    service = ResolutionService(database, answers=stack)
    await service.resolve("88.118.8/first-miss")  # finds where 88.118.8 belongs
    before = database.query_count
    for n in range(5):
        missing = await service.resolve(f"88.118.8/miss-{n}")
        assert missing.response_code == RC_HANDLE_NOT_FOUND
    assert database.query_count - before == 5  # the record lookups only
    await stack.invalidate(["0.NA/88.118.8"])  # a prefix handle changed
    before = database.query_count
    await service.resolve("88.118.8/after")
    assert database.query_count - before > 1  # placed again
    clock.now += 31
    before = database.query_count
    await service.resolve("88.118.8/later")
    assert database.query_count - before > 1  # placements live negative_ttl


async def test_a_maximum_age_refreshes_older_answers_and_plain_reads_stay_cached(
    database: HandleStore, clock: FakeClock
) -> None:
    """What verification asks for an issuer's handle (``revocation_ttl``): a cached copy
    fetched longer ago than ``max_age`` is read again, even within its TTL."""
    await database.create_handle(TV, [url(1, "a", ttl=86_400)], actor="test")
    service = make_service(database, clock)
    await service.resolve(TV)
    # written behind the cache's back (no invalidation)
    await database.replace_handle(TV, [url(1, "b", ttl=86_400)], actor="elsewhere")
    clock.now += 5
    before = database.query_count
    assert (await service.resolve(TV)).values[0].data == b"a"  # plain: from the cache
    assert (await service.resolve(TV, max_age=10)).values[0].data == b"a"  # young enough
    assert database.query_count == before
    clock.now += 6
    assert (await service.resolve(TV, max_age=10)).values[0].data == b"b"
    assert database.query_count > before
    before = database.query_count
    assert (await service.resolve(TV)).values[0].data == b"b"  # the refresh is cached for all
    assert (await service.resolve(TV, max_age=10)).values[0].data == b"b"
    assert database.query_count == before


async def test_a_zero_maximum_age_reads_every_time_and_concurrent_refreshes_share_one_read(
    database: HandleStore, clock: FakeClock
) -> None:
    await database.create_handle(TV, [url(1, "a", ttl=86_400)], actor="test")
    service = make_service(database, clock)
    await service.resolve(TV)
    for text in ("b", "c"):
        await database.replace_handle(TV, [url(1, text, ttl=86_400)], actor="elsewhere")
        assert (await service.resolve(TV, max_age=0)).values[0].data == text.encode()
    before = database.query_count
    results = await asyncio.gather(*(service.resolve(TV, max_age=0) for _ in range(25)))
    assert {r.values[0].data for r in results} == {b"c"}
    assert database.query_count - before == 1


async def test_a_refresh_invalidated_while_fetched_is_not_kept(
    database: HandleStore, clock: FakeClock
) -> None:
    stack = ResolutionStack(database, clock=clock)
    old = Answer(Kind.FOUND, (url(1, "old"),), clock.now + 100, fetched=clock.now)

    async def fetch_racing_a_write(handle: str) -> Answer:
        await stack.invalidate([handle])
        return old

    assert await stack._cached("l:" + TV, TV, fetch_racing_a_write, max_age=0) is old
    assert stack.local.get("l:" + TV) is None


async def test_an_answer_now_waits_for_nothing_and_never_overtakes_a_fetch(
    database: HandleStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``answer_now``: a cached answer, or (SQLite) a record read at once and cached as
    ``answer`` caches it; None while a fetch of the handle is under way (that fetch's
    answer is the one to share) and for a read that would wait (PostgreSQL)."""
    other = "88.118.8/TV-0002"
    await database.create_handle(TV, [url(1, "a")], actor="test")
    await database.create_handle(other, [url(1, "b")], actor="test")
    stack = ResolutionStack(database, negative_ttl=30, clock=clock)
    release = asyncio.Event()
    read = database.get_values

    async def held(name: str, *args: object, **kwargs: object) -> object:
        await release.wait()
        return await read(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(database, "get_values", held)
    fetching = asyncio.ensure_future(stack.answer(TV))
    for _ in range(5):
        await asyncio.sleep(0)
    assert stack.answer_now(TV) is None  # being fetched: not read again meanwhile
    release.set()
    fetched = await fetching
    assert stack.answer_now(TV) is fetched  # then served from the cache
    now = stack.answer_now(other)
    if database.dialect != "sqlite":
        assert now is None  # a network read cannot be made without waiting
        return
    assert now is not None and now.kind is Kind.FOUND and now.values[0].data == b"b"
    assert stack.answer_now(other) is now and await stack.answer(other) is now
    assert stack.counters == {"memory_misses": 2, "memory_hits": 3}
