"""PostgreSQL connections keep enough prepared statements for the node's statement set."""

from __future__ import annotations

from registry.db import PG_STATEMENT_CACHE
from registry.store import HandleStore
from tests.conftest import PgDatabase


async def test_each_connection_keeps_prepared_statements(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        assert await store.get_handle("88.118.8/none") is None
        async with store.read_engine.connect() as conn:
            adapter = (await conn.get_raw_connection()).dbapi_connection
            cache = adapter._prepared_statement_cache  # type: ignore[union-attr]
            assert cache.capacity == PG_STATEMENT_CACHE
    finally:
        await store.close()
    mine = await HandleStore.open(pg_url.url + "?prepared_statement_cache_size=7",
                                  schema=pg_url.schema, migrate=False)
    try:
        async with mine.read_engine.connect() as conn:
            adapter = (await conn.get_raw_connection()).dbapi_connection
            assert adapter._prepared_statement_cache.capacity == 7  # type: ignore[union-attr]
    finally:
        await mine.close()
