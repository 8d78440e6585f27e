"""Async database engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), and migrations.

URLs accepted: ``sqlite:///path``, ``sqlite+aiosqlite:///path`` or a bare file
path for SQLite; ``postgresql://``, ``postgres://`` or ``postgresql+asyncpg://``
for PostgreSQL.  ``schema`` (PostgreSQL only) puts every table in that schema
(``search_path``), creating it if missing, so tests and tenants can isolate.

Statement errors never carry their bound parameters (``hide_parameters``):
values written include HS_SECKEY secrets, and errors end up in logs.

SQLite connections run in WAL mode with a busy timeout and foreign keys on.
Transactions are explicit: a connection of an engine with execution option
``idnode_mode="read"`` runs without ``BEGIN`` (each statement is its own
snapshot); every other transaction starts with ``BEGIN IMMEDIATE``, so writers
queue for the single SQLite write lock instead of failing half-way.

Connection pools are sized for a serving process with many requests in
flight (:data:`POOL_SIZE` kept open, :data:`POOL_OVERFLOW` more while busy):
SQLAlchemy's default (5 + 10) opened and closed an overflow connection, for
aiosqlite a new thread, every few requests under load (the cold-resolution
profile of issue 17 saw 501 connections opened for 7,026 answers).  SQLite
readers in WAL mode run side by side, each on its own connection, from a pool
of their own (:func:`sqlite_read_engine`) that skips the rollback SQLAlchemy
sends when a connection goes back to the pool: a reader never opens a
transaction, and that rollback was one more trip to the aiosqlite thread per
lookup (a micro-benchmark of 32 concurrent lookups ran 1.6-3.5x faster
without it).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from registry import sqlite_driver

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MODE_OPTION = "idnode_mode"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: pages the WAL holds before a writer's commit checkpoints it: SQLite's default, set
#: here so every connection says it (a store also checkpoints its writes in the
#: background a moment after they commit: :mod:`registry.sqlite_checkpoints`).  4,000
#: made creates wait less often for a checkpoint's fsyncs but imports slower
#: (~6,300 -> ~5,300 demo records/s, alternating runs), so the default stays
SQLITE_WAL_AUTOCHECKPOINT = 1000
POOL_SIZE = 32
"""Connections each process keeps open to its store."""
POOL_OVERFLOW = 16
"""Connections opened beyond :data:`POOL_SIZE` while more are checked out (then closed)."""
SQLITE_READ_THREADS = 4
"""Threads a process reads SQLite point reads on while they go to the disk
(:class:`registry.sqlite_reads.ThreadedReader`)."""
PG_POINT_READERS = 16
"""PostgreSQL connections of the pool a process keeps for point reads at most
(:mod:`registry.pg_reads`; opened as the load needs them)."""
PG_STATEMENT_CACHE = 500
"""Prepared statements each PostgreSQL connection keeps (SQLAlchemy's asyncpg default is
100, fewer than the node's distinct statements: the resolution lookup could be pushed
out and prepared again); a URL's ``prepared_statement_cache_size`` wins."""

_MIGRATION_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PG_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext(:name || coalesce(current_schema(), '')))"
)


def normalise_url(url: str) -> URL:
    """The SQLAlchemy async URL for ``url`` (see the module docstring for the forms)."""
    if "://" not in url:
        return URL.create("sqlite+aiosqlite", database=str(Path(url)))
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)}")


def _check_schema(schema: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def _sqlite_engine(url: URL, *, reset_on_return: bool = True) -> AsyncEngine:
    engine = create_async_engine(
        url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
        pool_reset_on_return="rollback" if reset_on_return else None,
        module=sqlite_driver.DBAPI,  # one trip to the SQLite thread per statement
        json_serializer=sqlite_driver.json_text,
        # a create's first statements may run on the loop's thread, never two at once
        # (OneTripConnection.call_now); every other call on aiosqlite's thread
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "journal_mode=WAL",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            f"wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        if isinstance(dbapi_connection, sqlite_driver.OneTripConnection):
            dbapi_connection.busy_ms = SQLITE_BUSY_TIMEOUT_MS
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint")
            row = cursor.fetchone()
            cursor.close()
            if row is not None:
                dbapi_connection.autocheckpoint = int(row[0])

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(MODE_OPTION) != "read":
            # BEGIN IMMEDIATE, sent with the transaction's first statement
            sqlite_driver.begin_immediate(connection.connection.dbapi_connection)

    return engine


def sqlite_read_engine(engine: AsyncEngine) -> AsyncEngine:
    """A second engine on ``engine``'s SQLite file for statements outside any
    transaction (each its own snapshot): its connections go back to the pool as
    they are, without a rollback."""
    return _sqlite_engine(engine.url, reset_on_return=False)


async def open_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for ``url``; on PostgreSQL ``schema`` is created and searched."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("SQLite needs a database file (each pooled connection would "
                             "get its own empty in-memory database)")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(parsed)
    settings = {"jit": "off"}
    if schema is not None:
        settings["search_path"] = _check_schema(schema)
    if "prepared_statement_cache_size" not in parsed.query:
        parsed = parsed.update_query_dict(
            {"prepared_statement_cache_size": str(PG_STATEMENT_CACHE)})
    engine = create_async_engine(
        parsed, connect_args={"server_settings": settings}, hide_parameters=True,
        pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
    )
    if schema is not None:
        async with engine.begin() as conn:
            await transaction_lock(conn, f"schema.{schema}")
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


async def transaction_lock(conn: AsyncConnection, name: str) -> None:
    """Serialise transactions that take the lock ``name`` until they end.

    PostgreSQL: an advisory transaction lock keyed by ``name`` and the current
    schema.  SQLite: nothing to do, every writing transaction already holds the
    database write lock from ``BEGIN IMMEDIATE``.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(_PG_LOCK, {"name": f"idnode.{name}."})


def _upgrade(connection: Connection, pg_partitions: int | None) -> None:
    # imported here: alembic costs every CLI command ~80 ms that only migrations need
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["pg_partitions"] = pg_partitions
    command.upgrade(config, "head")


def _migration_lock() -> asyncio.Lock:
    """Alembic keeps its context in module globals: one migration per process at a time."""
    loop = asyncio.get_running_loop()
    lock = _MIGRATION_LOCKS.get(loop)
    if lock is None:
        lock = _MIGRATION_LOCKS[loop] = asyncio.Lock()
    return lock


async def run_migrations(engine: AsyncEngine, *, pg_partitions: int | None = None) -> None:
    """Upgrade the database behind ``engine`` to the newest revision.

    ``pg_partitions``: how many hash partitions a PostgreSQL database's handle
    tables get if this upgrade creates them (:mod:`registry.partitions`).

    Safe when several processes (or tasks) start at once: SQLite serialises them
    on the write lock, PostgreSQL on an advisory lock per schema, tasks of one
    process on a lock of their event loop.
    """
    async with _migration_lock(), engine.begin() as conn:
        await transaction_lock(conn, "migrate")
        await conn.run_sync(_upgrade, pg_partitions)


async def migrate(
    url: str, schema: str | None = None, *, pg_partitions: int | None = None
) -> None:
    """Upgrade the database at ``url`` (PostgreSQL: in ``schema``) to the newest revision."""
    engine = await open_engine(url, schema=schema)
    try:
        await run_migrations(engine, pg_partitions=pg_partitions)
    finally:
        await engine.dispose()
