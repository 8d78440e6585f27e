"""Usage statistics: answered resolutions per hour and prefix, and the cache ratio,
counted by the serving side and read back by the statistics report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from registry.config import NodeConfig
from registry.stats_report import usage
from registry.store import HandleStore
from resolver.core.client import HandleClient
from resolver.core.usage import MAX_WAITING, TOP_PER_PREFIX, SpaceSaving, UsageCounter
from resolver.node import start_node
from tests.resolver.core.test_cache import url

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0 + 5

    def __call__(self) -> float:
        return self.now


async def test_counts_per_hour_and_prefix(database: HandleStore) -> None:
    clock = Clock()
    cache = {"memory_hits": 0, "memory_misses": 0}
    counter = UsageCounter(cache_counters=lambda: cache, clock=clock)
    counter.resolved("88.118.8/A", RC_SUCCESS)
    counter.resolved("88.118.8/B", RC_SUCCESS)
    counter.resolved("77.random/X", RC_HANDLE_NOT_FOUND)  # node-wide only
    cache.update(memory_hits=5, memory_misses=3)
    await counter.flush(database)
    clock.now += 3600
    counter.resolved("88.118.9/C", RC_SUCCESS)
    cache.update(memory_hits=6, memory_misses=3)
    await counter.flush(database)
    await counter.flush(database)  # nothing new: nothing added
    start = datetime.fromtimestamp(T0, UTC)
    report = await usage(database, start, start + timedelta(hours=2))
    assert report["resolutions"]["total"] == 4
    by_prefix = {row["prefix"]: row["count"] for row in report["resolutions"]["by_prefix"]}
    assert by_prefix["88.118.8"] == 2 and by_prefix["88.118.9"] == 1
    assert "77.RANDOM" not in by_prefix and "77.random" not in by_prefix
    assert [row["count"] for row in report["resolutions"]["by_period"]] == [3, 1]
    assert report["cache"]["hits"] == 6 and report["cache"]["misses"] == 3


async def test_a_serving_node_records_its_resolutions(tmp_path: Path) -> None:
    node = await start_node(NodeConfig(data_dir=tmp_path, handle_port=0, http_port=0))
    try:
        await node.store.create_prefix("88.118.8")
        await node.store.replace_handle("88.118.8/TV-0001", [url(1, "https://tv")], actor="t")
        client = HandleClient(timeout=3.0)
        for _ in range(3):
            await client.resolve("88.118.8/TV-0001", server=("127.0.0.1", node.handle_port))
    finally:
        await node.close()  # flushes what was counted
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        now = datetime.now(UTC)
        report = await usage(store, now - timedelta(hours=2), now + timedelta(hours=1))
    finally:
        await store.close()
    assert report["resolutions"]["total"] == 3
    assert report["cache"]["hits"] == 2 and report["cache"]["misses"] == 1


async def test_top_identifiers_are_counted_within_a_bound(database: HandleStore) -> None:
    clock = Clock()
    counter = UsageCounter(clock=clock)
    for _ in range(50):
        counter.resolved("88.118.8/HOT", RC_SUCCESS)
    for _ in range(20):
        counter.resolved("88.118.8/WARM", RC_SUCCESS)
        counter.resolved("88.118.8/WARM", RC_SUCCESS)
    for n in range(1000):                      # a scan of many handles asked once each
        counter.resolved(f"88.118.8/COLD-{n}", RC_SUCCESS)
    counter.resolved("88.118.8/MISSING", RC_HANDLE_NOT_FOUND)   # not counted: no answer
    assert all(len(kept) <= TOP_PER_PREFIX for kept in counter._top.values())
    await counter.flush(database)
    clock.now += 86400                         # the next day adds up
    counter.resolved("88.118.8/WARM", RC_SUCCESS)
    await counter.flush(database)
    since = datetime.fromtimestamp(T0, UTC) - timedelta(days=1)
    top = await database.top_handles(["88.118.8"], since=since, limit=2)
    assert [name for name, _n in top] == ["88.118.8/HOT", "88.118.8/WARM"]
    assert dict(top)["88.118.8/HOT"] >= 50 and dict(top)["88.118.8/WARM"] >= 41
    assert await database.top_handles(["88.118.9"], since=since) == []


async def test_answers_from_kept_forms_are_folded_in_at_the_flush(database: HandleStore) -> None:
    clock = Clock()
    counter = UsageCounter(clock=clock)
    for _ in range(300):                       # more than 1/TOP_PER_PREFIX of all: kept
        counter.resolved_kept("88.118.8/HOT")
    for n in range(MAX_WAITING + 1):           # too many handles waiting: folded in at once
        counter.resolved_kept(f"88.118.8/COLD-{n}")
    assert len(counter._waiting) <= 1
    assert all(len(kept) <= TOP_PER_PREFIX for kept in counter._top.values())
    counter.resolved_kept("88.118.8/WARM")
    counter.resolved_kept("88.118.8/WARM")
    await counter.flush(database)
    start = datetime.fromtimestamp(T0, UTC)
    report = await usage(database, start, start + timedelta(hours=1))
    assert report["resolutions"]["total"] == 300 + MAX_WAITING + 1 + 2
    top = await database.top_handles(["88.118.8"], since=start - timedelta(days=1), limit=1)
    assert top[0][0] == "88.118.8/HOT" and top[0][1] >= 300


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 3)), max_size=300),
       st.integers(1, 6))
def test_space_saving_keeps_its_guarantees(stream: list[tuple[int, int]], capacity: int) -> None:
    """Whatever is asked: at most ``capacity`` handles, their counts add up to all that
    was counted once it is full, no kept count under the true one, every handle asked
    more than 1/capacity of the time kept, ``least`` the smallest count held."""
    kept = SpaceSaving()
    true: dict[str, int] = {}
    for n, count in stream:
        handle = f"88.118.8/H{n}"
        kept.add(handle, count, capacity)
        true[handle] = true.get(handle, 0) + count
        counts = dict(kept.items())
        assert len(kept) == len(counts) <= capacity
        assert kept.least == min(counts.values())
        assert {c: set(h) for c, h in kept.by_count.items()} == {
            c: {h for h, n in counts.items() if n == c} for c in set(counts.values())}
    total = sum(true.values())
    counts = dict(kept.items())
    if len(true) > capacity:
        assert sum(counts.values()) == total
    else:
        assert counts == true
    assert all(counts[h] >= true[h] for h in counts)
    assert all(h in counts for h, n in true.items() if n * capacity > total)
