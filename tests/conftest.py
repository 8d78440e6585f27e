"""Suite-wide fixtures: real PostgreSQL and Redis, and an open ``HandleStore`` per test.

The services are expected at PostgreSQL ``127.0.0.1:5432`` (trust auth,
database ``test``; override with ``IDNODE_TEST_PG``) and Redis
``127.0.0.1:6379`` (override with ``IDNODE_TEST_REDIS``).  When one is not
reachable the harness tries to start it (``pg_ctlcluster ... main start``,
``redis-server --daemonize yes ...``); if it is still missing, tests that need
it are skipped, or fail when the environment says ``CI=true``.

Fixtures
--------
``postgres_server`` -> str
    The base URL once PostgreSQL answers; its catalog compacted first when a
    reused machine's earlier runs left it large (:func:`tests._services.compact_catalog`).
``pg_url`` -> :class:`tests._services.PgDatabase`
    ``.url`` (``postgresql://...``) and ``.schema``: a fresh, unique schema for
    this test, dropped with everything in it afterwards.  Pass both on, e.g.
    ``await HandleStore.open(pg_url.url, schema=pg_url.schema)``.
``database`` -> :class:`registry.store.HandleStore`
    Parametrised with ids ``sqlite`` (a file under ``tmp_path``) and
    ``postgresql`` (a ``pg_url`` schema): an open, migrated, empty store,
    closed afterwards.  A test using it runs once per backend.
``sqlite_url`` -> str
    URL of an (absent) SQLite file under ``tmp_path``.
``redis_url`` -> str
    ``redis://127.0.0.1:6379/0`` once Redis answers.
``redis_prefix`` -> str
    A unique key prefix (``test:<hex>:``) for this test; every key starting
    with it is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from registry.store import HandleStore
from tests._services import PgDatabase, compact_catalog, ensure_postgres, ensure_redis

PG_URL = os.environ.get("IDNODE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDNODE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"required service missing on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL base URL, once the server answers (skip/fail otherwise)."""
    problem = ensure_postgres(PG_URL)
    if problem:
        _unavailable(problem)
    compact_catalog(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL, once Redis answers PING (skip/fail otherwise)."""
    problem = ensure_redis(REDIS_URL)
    if problem:
        _unavailable(problem)
    return REDIS_URL


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[PgDatabase]:
    """A unique, empty schema for this test; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield PgDatabase(postgres_server, schema)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL for a file in this test's temporary folder."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HandleStore]:
    """An open, migrated, empty HandleStore on each backend."""
    if request.param == "sqlite":
        store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        pg: PgDatabase = request.getfixturevalue("pg_url")
        store = await HandleStore.open(pg.url, schema=pg.schema)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique Redis key prefix; its keys are deleted after the test."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
