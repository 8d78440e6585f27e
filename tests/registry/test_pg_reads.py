"""PostgreSQL point reads straight on asyncpg: no SQLAlchemy statement, every commit seen,
at most PG_POINT_READERS connections, and a read survives its connection being killed."""

from __future__ import annotations

import asyncio

import psycopg
from sqlalchemy import event

from protocol.values import HandleValue, ValueReference
from registry.db import PG_POINT_READERS
from registry.store import HandleStore
from tests._services import PgDatabase

NAME = "88.118.8/TV-0001"


def values(text: str) -> list[HandleValue]:
    return [
        HandleValue(1, "URL", text.encode()),
        HandleValue(2, "HS_ALIAS", b"\x00\xff", ttl_type=1, ttl=2_000_000_000,
                    public_read=False, references=(ValueReference("88.118.8/OTHER", 3),)),
    ]


async def test_point_reads_skip_sqlalchemy_and_see_each_commit(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    other = await HandleStore.open(pg_url.url, schema=pg_url.schema, migrate=False)
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    try:
        created = await store.create_handle(NAME, values("https://a.test"), actor="t")
        event.listen(store.read_engine.sync_engine, "before_cursor_execute", count)
        before = store.query_count
        assert await store.get_handle(NAME, replica=True) == created
        assert await store.get_handle("88.118.8/absent") is None
        assert (statements, store.query_count - before) == (0, 2)
        await other.modify_values(NAME, values("https://b.test")[:1], actor="t")
        again = await store.get_handle(NAME)
        assert again is not None and again.values[0].data == b"https://b.test"
        assert again.values[1] == created.values[1]
        await other.delete_handle(NAME, actor="t")
        assert await store.get_handle(NAME) is None
    finally:
        event.remove(store.read_engine.sync_engine, "before_cursor_execute", count)
        await other.close()
        await store.close()


async def test_bounded_connections_and_a_killed_one_is_replaced(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        await store.create_handle(NAME, values("https://a.test"), actor="t")
        found = await asyncio.gather(*(store.get_handle(NAME) for _ in range(3 * PG_POINT_READERS)))
        assert all(r is not None for r in found)
        points = store._points
        assert points is not None and 1 <= len(points._idle) <= PG_POINT_READERS
        for h in points._idle:  # the lookup planned once per connection, on these only
            assert await h.driver.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        async with store.read_engine.connect() as conn:
            assert (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar() == "auto"
        held = [h.driver.get_server_pid() for h in points._idle]
        with psycopg.connect(pg_url.url, autocommit=True) as conn:
            for pid in held:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.2)
        for _ in range(len(held) + 1):  # each dead connection is dropped, the read retried
            record = await store.get_handle(NAME)
            assert record is not None and record.values[0].data == b"https://a.test"
    finally:
        await store.close()


async def test_concurrent_reads_go_as_one_statement_each_getting_its_own_rows(
        pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        names = [f"88.118.8/TV-{i:04d}" for i in range(6)]
        for i, name in enumerate(names):
            await store.create_handle(name, values(f"https://{i}.test")[: 1 + i % 2], actor="t")
        asked = [*names, "88.118.8/absent", names[2].lower(), "88.118.8/ALSO-ABSENT"]
        alone = [await store.get_handle(name) for name in asked]
        before = store.query_count
        together = await asyncio.gather(*(store.get_handle(name) for name in asked))
        assert store.query_count - before == 1
        assert together == alone
        assert [r is None for r in together] == [False] * 6 + [True, False, True]
        assert together[1] is not None and len(together[1].values) == 2
        assert together[1].values[1].references == (ValueReference("88.118.8/OTHER", 3),)
    finally:
        await store.close()
