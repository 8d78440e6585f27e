"""PostgreSQL hash partitions of the handle tables (migrations 0007 and 0015,
registry/partitions.py).

The count comes from ``pg_partitions``; a lookup by handle key is planned on
one partition of each table; an existing database with rows is upgraded with its
rows; a bulk batch written with COPY that fails leaves nothing behind; each value
partition's foreign key refers to the handle partition of its number, refuses a value
without its head and cascades a delete.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from protocol.values import HandleValue
from registry.db import migrate, open_engine
from registry.models import Handle, HandleValueRow, table_of
from registry.partitions import (
    DEFAULT_PG_PARTITIONS,
    chosen_count,
    is_partition,
    partition_count,
    partitions_of,
    table_sizes,
)
from registry.store import _BUMP, _GET, _LOCK, HandleStore
from tests._services import PgDatabase


def _values(n: int) -> list[HandleValue]:
    return [HandleValue(1, "URL", f"https://e.test/{n}".encode()),
            HandleValue(2, "EMAIL", b"ops@e.test")]


def _plan_tables(plan: dict[str, Any]) -> list[str]:
    """Every relation a JSON plan scans."""
    found = [plan["Relation Name"]] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found.extend(_plan_tables(child))
    return found


async def _explain(conn: Any, statement: Any, params: dict[str, Any]) -> list[str]:
    """The relations the plan of ``statement`` scans, handles' partition last."""
    compiled = statement.compile(dialect=conn.dialect)
    args = tuple(params[name] if name in params else compiled.params[name]
                 for name in compiled.positiontup)
    plan = (await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), args)
            ).scalar_one()
    tables = _plan_tables((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
    return sorted(tables, key=lambda t: t.startswith("handles_"))


def test_partition_count_is_bounded_and_named() -> None:
    assert partition_count("8") == 8
    with pytest.raises(ValueError, match="pg_partitions"):
        partition_count(0)
    with pytest.raises(ValueError, match="-x pg_partitions"):
        chosen_count({}, {"pg_partitions": "many"})
    assert chosen_count({"pg_partitions": None}, {}) == DEFAULT_PG_PARTITIONS
    assert chosen_count({}, {"pg_partitions": "4"}) == 4
    assert is_partition("handles_p3") and is_partition("handle_values_p12")
    assert not is_partition("handles") and not is_partition("handles_pending")


async def test_resolution_query_reads_one_partition_of_each_table(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema, pg_partitions=8)
    try:
        await store.bulk_put([(f"88.118.8/P-{n}", _values(n)) for n in range(200)], actor="t")
        async with store.engine.connect() as conn:
            assert len(await partitions_of(conn, "handles")) == 8
            assert len(await partitions_of(conn, "handle_values")) == 8
            for table in ("handles", "handle_values"):  # the rows are spread over them
                counts = (await conn.execute(text(
                    f"SELECT count(*) FROM {table} GROUP BY tableoid"))).scalars().all()
                assert len(counts) == 8 and sum(counts) in (200, 400)
            key = "88.118.8/P-17"
            for statement in (_GET, _LOCK):  # resolution, and the lock of every write
                tables = await _explain(conn, statement, {"key": key})
                assert sorted(t for t in tables if t != "enterprises") == [
                    "handle_values_p" + tables[-1].rsplit("_p", 1)[1], tables[-1]], tables
                assert all(is_partition(t) for t in tables if t != "enterprises"), tables
            now = datetime.now(UTC)
            bump = await _explain(conn, _BUMP, {"hid": 1, "key": key, "old": 1, "now": now})
            scanned = [t for t in bump if t != "handles"]  # the update's target is the parent
            assert len(scanned) == 1 and is_partition(scanned[0]), bump
            data, index = await table_sizes(conn, "handles")
        assert data > 0 and index > 0
        record = await store.get_handle("88.118.8/P-17")
        assert record is not None and record.values[0].data == b"https://e.test/17"
    finally:
        await store.close()


async def _alembic(pg_url: PgDatabase, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade revision`` on the test's schema."""
    from alembic import command
    from alembic.config import Config

    from registry.db import MIGRATIONS_DIR

    def run(connection: Any) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    engine = await open_engine(pg_url.url, schema=pg_url.schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_upgrade_copies_existing_rows_into_partitions(pg_url: PgDatabase) -> None:
    """A database at 0006 with handles is upgraded: rows, ids and the sequence kept;
    the downgrade takes the rows back to plain tables."""
    await _alembic(pg_url, "upgrade", "0006")
    old = HandleStore(await open_engine(pg_url.url, schema=pg_url.schema))
    try:
        async with old.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO handles (name, name_key, prefix, version, created, updated) "
                "VALUES ('88.118.8/Old', '88.118.8/OLD', '88.118.8', 3, now(), now())"))
            await conn.execute(text(
                "INSERT INTO handle_values SELECT id, 1, 'URL', 'x'::bytea, 0, 86400, 0, "
                "true, true, true, false, '[]'::json FROM handles"))
    finally:
        await old.close()
    await migrate(pg_url.url, pg_url.schema, pg_partitions=4)
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        record = await store.get_handle("88.118.8/OLD")
        assert record is not None and record.version == 3 and record.values[0].data == b"x"
        await store.create_handle("88.118.8/New", _values(1), actor="t")
        async with store.engine.connect() as conn:
            assert len(await partitions_of(conn, "handles")) == 4
            ids = (await conn.execute(text("SELECT id FROM handles ORDER BY id"))).scalars().all()
        assert ids[0] < ids[1]  # the sequence went on
        await store.delete_handle("88.118.8/Old", actor="t")  # cascades to its values
        assert await store.get_handle("88.118.8/old") is None
    finally:
        await store.close()
    await _alembic(pg_url, "downgrade", "0006")
    with psycopg.connect(pg_url.url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{pg_url.schema}"')
        kept = conn.execute("SELECT h.name_key, v.idx FROM handles h JOIN handle_values v "
                            "ON v.handle_id = h.id").fetchall()
        parts = conn.execute("SELECT count(*) FROM pg_inherits "
                             "WHERE inhparent = 'handles'::regclass").fetchone()
    assert sorted(kept) == [("88.118.8/NEW", 1), ("88.118.8/NEW", 2)] and parts == (0,)


async def test_copy_batch_that_fails_leaves_nothing(pg_url: PgDatabase) -> None:
    """A row the database refuses in the middle of a COPY batch: no handle, value,
    audit row or checkpoint of the batch is kept."""
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        with psycopg.connect(pg_url.url, autocommit=True) as admin:
            admin.execute(f'SET search_path TO "{pg_url.schema}"')
            admin.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.name_key = '88.118.8/C-7' THEN RAISE EXCEPTION 'refused %', "
                "NEW.name_key; END IF; RETURN NEW; END $$")
            admin.execute("CREATE TRIGGER refuse BEFORE INSERT ON handle_values "
                          "FOR EACH ROW EXECUTE FUNCTION refuse()")
        await store.start_import_job("job", "digest")
        batch = [(f"88.118.8/C-{n}", _values(n)) for n in range(10)]
        with pytest.raises(Exception, match="refused"):
            await store.bulk_put(batch, actor="t", job_id="job", job_position=10)
        assert await store.count_handles() == 0
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM handle_values"))).scalar() == 0
        job = await store.get_import_job("job")
        assert job is not None and job.rows_done == 0
        audit_before = (await store.verify_audit())
        assert audit_before.ok
        ok = await store.bulk_put(batch[:7], actor="t", job_id="job", job_position=7)
        assert ok.inserted == 7 and await store.count_handles() == 7
    finally:
        await store.close()


def test_value_rows_carry_the_handle_key() -> None:
    assert "name_key" in table_of(HandleValueRow).c
    assert table_of(Handle).c.name_key.unique


_KEYS = ("SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, c.confdeltype "
         "FROM pg_constraint c WHERE c.contype = 'f' AND c.conname LIKE 'fk_handle_values%' "
         "ORDER BY 1")


async def test_value_partitions_refer_to_their_handle_partition(pg_url: PgDatabase) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema, pg_partitions=4)
    try:
        await store.bulk_put([(f"88.118.8/K-{n}", _values(n)) for n in range(40)], actor="t")
        await store.create_handle("88.118.8/K-one", _values(99), actor="t")
        with psycopg.connect(pg_url.url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{pg_url.schema}"')
            assert conn.execute(_KEYS).fetchall() == [
                (f"handle_values_p{n}", f"handles_p{n}", "c") for n in range(4)]
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                conn.execute("INSERT INTO handle_values SELECT id + 1000, name_key, 9, 'URL', "
                             "'x'::bytea, 0, 0, 0, true, true, true, false, '[]'::json "
                             "FROM handles WHERE name_key = '88.118.8/K-1'")
        for name in ("88.118.8/K-1", "88.118.8/K-one"):  # each cascades to its values
            await store.delete_handle(name, actor="t")
        async with store.engine.connect() as conn:
            left = (await conn.execute(text(
                "SELECT count(*) FROM handle_values WHERE name_key IN "
                "('88.118.8/K-1', '88.118.8/K-ONE')"))).scalar()
            assert left == 0
            assert (await conn.execute(text("SELECT count(*) FROM handle_values"))).scalar() == 78
    finally:
        await store.close()
    await _alembic(pg_url, "downgrade", "0014")
    with psycopg.connect(pg_url.url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{pg_url.schema}"')
        keys = conn.execute(_KEYS).fetchall()
    # back to one key on the parent (PostgreSQL keeps a copy of it on every partition)
    assert ("handle_values", "handles", "c") in keys
    assert all(referred == "handles" for _table, referred, _kind in keys)
