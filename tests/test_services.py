"""The suite's service set-up: a reused machine's bloated PostgreSQL catalog is compacted."""

from __future__ import annotations

import psycopg

from tests._services import CATALOG_TABLES, catalog_bytes, compact_catalog


def _filenodes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {table: conn.execute("SELECT pg_relation_filenode(%s)",
                                    (f"pg_catalog.{table}",)).fetchone()[0]  # type: ignore[index]
                for table in CATALOG_TABLES}


def test_a_catalog_under_the_limit_is_left_alone(postgres_server: str) -> None:
    before = _filenodes(postgres_server)
    assert compact_catalog(postgres_server, limit=1 << 40) is False
    assert _filenodes(postgres_server) == before


def test_a_catalog_over_the_limit_is_rewritten_without_its_dead_rows(postgres_server: str) -> None:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "catalog_churn"')
        for n in range(50):
            conn.execute(f'CREATE TABLE "catalog_churn".t{n} ('
                         + ", ".join(f"c{i} int" for i in range(20)) + ")")
        conn.execute('DROP SCHEMA "catalog_churn" CASCADE')
    before = _filenodes(postgres_server)
    assert catalog_bytes(postgres_server) > 0
    assert compact_catalog(postgres_server, limit=0) is True
    after = _filenodes(postgres_server)
    assert all(after[table] != before[table] for table in CATALOG_TABLES), (before, after)
