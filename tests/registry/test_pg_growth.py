"""Bulk loads on PostgreSQL keep the handle tables' statistics current (registry.pg_growth):
without autovacuum the value rows' key checks stay planned as sequential scans."""

from __future__ import annotations

import psycopg

from protocol.values import HandleValue
from registry.pg_growth import GrowthWatch
from registry.store import HandleStore
from tests._services import PgDatabase


def test_an_analyze_is_due_first_after_the_floor_then_each_time_the_handles_double() -> None:
    watch = GrowthWatch(first=100)
    due = [watch.grew(40) for _ in range(20)]  # 40, 80, ..., 800 handles
    assert [40 * (n + 1) for n, yes in enumerate(due) if yes] == [120, 240, 480]
    assert not GrowthWatch(first=100).grew(99) and GrowthWatch(first=100).grew(100)


def _batch(start: int, count: int) -> list[tuple[str, list[HandleValue]]]:
    return [(f"88.118.8/GROW-{n:06d}", [HandleValue(1, "URL", f"https://e.test/{n}".encode())])
            for n in range(start, start + count)]


def _planned_handles(pg: PgDatabase) -> float:
    """The handles PostgreSQL's planner believes the partitions hold (ANALYZE sets it)."""
    with psycopg.connect(pg.url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE p.relname = 'handles' AND n.nspname = %s", (pg.schema,)).fetchone()
    assert row is not None
    return float(row[0])


async def test_bulk_writes_analyze_the_tables_as_they_grow(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        store.growth = GrowthWatch(first=60)
        await store.bulk_put(_batch(0, 50), actor="importer")
        assert _planned_handles(pg_url) == 0  # not due yet
        await store.bulk_put(_batch(50, 50), actor="importer")  # 100 >= 60: analyzed
        assert _planned_handles(pg_url) == 100
        await store.bulk_put(_batch(100, 50), actor="importer")  # 150 < 100 + 100
        assert _planned_handles(pg_url) == 100
        await store.bulk_put(_batch(150, 60), actor="importer")  # 210 >= 200: analyzed
        assert _planned_handles(pg_url) == 210
        await store.bulk_put(_batch(0, 10), actor="importer", overwrite=True)  # no new handle
        assert store.growth.added == 210
    finally:
        await store.close()
