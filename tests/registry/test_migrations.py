"""Migrations: upgrade an empty database to head on both backends, match the models."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from protocol.values import HandleValue, ValueReference
from registry.db import migrate, normalise_url, open_engine
from registry.models import Base
from registry.partitions import is_partition
from registry.store import _GET_SQLITE, HandleStore


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"include_name": lambda name, type_, _parents: not (
            type_ == "table" and is_partition(name))})
    return [diff for diff in compare_metadata(context, Base.metadata)
            if not _partition_keys(connection, diff)]


def _partition_keys(connection: Connection, diff: Any) -> bool:
    """Whether ``diff`` comes from the PostgreSQL partitioning (migration 0007): the
    values' foreign key to handles names ``(handle_id, name_key)``, and PostgreSQL keeps
    an internal copy of each foreign key into a partitioned table for every partition."""
    if connection.dialect.name != "postgresql" or not isinstance(diff, tuple):
        return False
    kind, constraint = diff[0], diff[1]
    if kind not in ("add_fk", "remove_fk"):
        return False
    return (constraint.name == "fk_handle_values_handle_id_handles"
            or (kind == "remove_fk" and is_partition(constraint.referred_table.name)))


def _head() -> str:
    """The one head revision of the migration chain."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from registry.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_from_empty_matches_the_models(
    empty_database: tuple[str, str | None],
) -> None:
    url, schema = empty_database
    await migrate(url, schema)
    await migrate(url, schema)  # already at head: nothing to do
    engine = await open_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            tables = {t for t in await conn.run_sync(_tables) if not is_partition(t)}
            assert tables == set(Base.metadata.tables) | {"alembic_version"}
            assert await conn.run_sync(_differences) == []
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            assert version == [(_head(),)]
    finally:
        await engine.dispose()


async def test_processes_starting_together_migrate_once(
    empty_database: tuple[str, str | None],
) -> None:
    url, schema = empty_database
    stores = await asyncio.gather(*(HandleStore.open(url, schema=schema) for _ in range(3)))
    try:
        assert all([await s.count_handles() == 0 for s in stores])
    finally:
        for store in stores:
            await store.close()


async def test_open_without_migrating_leaves_the_database_alone(sqlite_url: str) -> None:
    store = await HandleStore.open(sqlite_url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://h/db"])
async def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        await open_engine(url)


def test_url_forms() -> None:
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    bare = normalise_url("data/registry.db")
    assert (bare.drivername, bare.database) == ("sqlite+aiosqlite", "data/registry.db")


def _upgrade_to(connection: Connection, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    from registry.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_the_change_feed_keeps_counting_past_the_rows_0014_drops_autoincrement_of(
    sqlite_url: str,
) -> None:
    # 0013's feed had AUTOINCREMENT, whose counter outlived pruned rows; from 0014 on the
    # next number follows the largest row: the migration leaves a row at the counter
    engine = await open_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0013")
            for handle in ("88.118.8/A", "88.118.8/B"):
                await conn.execute(text("INSERT INTO changes (handle, kind, time) "
                                        "VALUES (:h, 'handle', '2026-01-01 00:00:00.000000')"),
                                   {"h": handle})
            await conn.execute(text("DELETE FROM changes"))
    finally:
        await engine.dispose()
    store = await HandleStore.open(sqlite_url)
    try:
        assert await store.last_change() == 2
        await store.create_handle("88.118.8/C", [], actor="a")
        assert [(r.seq, r.handle) for r in await store.changes_since(2)] == [(3, "88.118.8/C")]
        async with store.engine.connect() as conn:
            indexes = {i["name"] for t in ("changes", "handle_values")
                       for i in await conn.run_sync(lambda c, t=t: inspect(c).get_indexes(t))}
        assert not indexes & {"ix_changes_time", "ix_handle_values_type"}
    finally:
        await store.close()


def _values_layout(connection: Connection) -> tuple[bool, list[str]]:
    """(whether SQLite's ``handle_values`` has a rowid, the B-trees it has beside its rows:
    a rowid table keeps its primary key apart, in ``sqlite_autoindex_handle_values_1``)."""
    with_rowid = inspect(connection).get_table_options("handle_values").get(
        "sqlite_with_rowid", True)
    indexes = [row[0] for row in connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'handle_values'")]
    return with_rowid, indexes


async def _values_of(sqlite_url: str) -> tuple[tuple[bool, list[str]], list[tuple[Any, ...]]]:
    """The value table's layout and every row of it, in key order."""
    engine = await open_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            layout = await conn.run_sync(_values_layout)
            rows = (await conn.execute(text(
                "SELECT handle_id, name_key, idx, type, data, ttl_type, ttl, admin_read, "
                'public_write, "references" FROM handle_values ORDER BY handle_id, idx'))).all()
    finally:
        await engine.dispose()
    return layout, [tuple(row) for row in rows]


async def _migrate_to(url: str, revision: str, *, down: bool = False,
                      schema: str | None = None) -> None:
    engine = await open_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: _upgrade_to(c, revision, down=down))
    finally:
        await engine.dispose()


async def test_sqlite_values_are_clustered_by_their_key_on_fresh_databases(
    sqlite_url: str, tmp_path: Path,
) -> None:
    # migrated (how the node creates its database) and from the models: no rowid, so
    # no separate index of (handle_id, idx) beside the rows
    await migrate(sqlite_url, None)
    assert (await _values_of(sqlite_url))[0] == (False, [])
    # a resolution's read finds a record's values as one range of that key
    engine = await open_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            plan = [row[3] for row in await conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {_GET_SQLITE}", ("88.118.8/x",))]
    finally:
        await engine.dispose()
    assert "SEARCH handle_values USING PRIMARY KEY (handle_id=?) LEFT-JOIN" in plan
    from_models = f"sqlite:///{tmp_path / 'models.db'}"
    engine = await open_engine(from_models)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()
    assert (await _values_of(from_models))[0] == (False, [])


async def test_0016_keeps_every_value_row_both_ways(sqlite_url: str) -> None:
    full = HandleValue(7, "HS_ALIAS", b"\x00\xffbin", ttl_type=1, ttl=2_000_000_000,
                       admin_read=False, public_write=True,
                       references=(ValueReference("88.118.8/OTHER", 3),))
    store = await HandleStore.open(sqlite_url)  # written at head, then taken down to 0015
    try:
        for number in range(3):
            await store.create_handle(f"88.118.8/V{number}", [
                HandleValue(1, "URL", f"https://example.test/{number}".encode()), full,
            ], actor="a")
        await store.create_handle("88.118.8/GONE", [HandleValue(1, "URL", b"x")], actor="a")
        records = [await store.get_handle(f"88.118.8/V{n}") for n in range(3)]
    finally:
        await store.close()
    assert (await _values_of(sqlite_url))[0] == (False, [])
    await _migrate_to(sqlite_url, "0015", down=True)
    layout, rows = await _values_of(sqlite_url)
    assert layout == (True, ["sqlite_autoindex_handle_values_1"]) and len(rows) == 7
    store = await HandleStore.open(sqlite_url)  # upgrades to head
    try:
        assert await _values_of(sqlite_url) == ((False, []), rows)
        assert [await store.get_handle(f"88.118.8/V{n}") for n in range(3)] == records
        await store.delete_handle("88.118.8/GONE", actor="a")  # its values go with it
        assert (await _values_of(sqlite_url))[1] == rows[:-1]
    finally:
        await store.close()
    await _migrate_to(sqlite_url, "0015", down=True)
    assert await _values_of(sqlite_url) == (
        (True, ["sqlite_autoindex_handle_values_1"]), rows[:-1])
