"""Make sure the PostgreSQL and Redis the suite needs are running; start them if not.

Used by ``tests/conftest.py``.  Each ``ensure_*`` returns None when the service
answers, else a one-line reason.  :class:`PgDatabase` is what ``pg_url`` yields.

:func:`compact_catalog` keeps the test database's system catalog small: every
PostgreSQL test migrates a schema of its own (with 16 partitions of each
partitioned table) and drops it again, so a run creates and deletes ~10^5
catalog rows; the dead rows' space is not given back, and on a machine whose
database outlives many runs the catalog grew past 1 GB (issue 17: pg_attribute
419 MB, pg_depend 232 MB), which slowed every later run's DDL by ~10%.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

START_TIMEOUT = 20.0
CATALOG_LIMIT = 256 * 1024 * 1024
"""Bytes of pg_catalog tables (with their indexes) above which the suite compacts them."""
CATALOG_TABLES = ("pg_attribute", "pg_depend", "pg_class", "pg_type", "pg_constraint",
                  "pg_index", "pg_attrdef", "pg_inherits", "pg_namespace", "pg_sequence",
                  "pg_partitioned_table", "pg_statistic", "pg_trigger", "pg_description")
"""The catalog tables a migrated schema adds rows to (and its DROP leaves dead)."""


@dataclass(frozen=True)
class PgDatabase:
    """A PostgreSQL URL and the schema reserved for one test (the ``pg_url`` fixture)."""

    url: str
    schema: str


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _wait_for(host: str, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return True
        time.sleep(0.2)
    return False


def _run(command: list[str]) -> None:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(command, check=False, capture_output=True, timeout=START_TIMEOUT)


def _start_postgres() -> None:
    clusters = Path("/etc/postgresql")
    for version in sorted(p.name for p in clusters.glob("*")) if clusters.is_dir() else []:
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])


def _start_redis(port: int) -> None:
    for folder in ("/var/lib/redis", "/var/log/redis"):
        os.makedirs(folder, exist_ok=True)
    _run([
        "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
        "--port", str(port), "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
        "--logfile", "/var/log/redis/ci.log",
    ])


def _ensure_database(url: str) -> None:
    """Create the database named in ``url`` when the server lacks it."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def ensure_postgres(url: str) -> str | None:
    """None when PostgreSQL at ``url`` accepts connections (started if needed)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    if not _port_open(host, port):
        _start_postgres()
        if not _wait_for(host, port):
            return f"PostgreSQL is not listening on {host}:{port} and could not be started"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            _ensure_database(url)
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return None
        except psycopg.OperationalError as exc:  # e.g. still starting up
            if time.monotonic() > deadline:
                return f"PostgreSQL at {host}:{port} refuses connections: {exc}"
            time.sleep(0.3)


def catalog_bytes(url: str) -> int:
    """Bytes the :data:`CATALOG_TABLES` take, indexes included, in ``url``'s database."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'pg_catalog' AND c.relname = ANY(%s)", (list(CATALOG_TABLES),),
        ).fetchone()
    return int(row[0]) if row else 0


def compact_catalog(url: str, limit: int = CATALOG_LIMIT) -> bool:
    """``VACUUM FULL`` the catalog tables when they take more than ``limit`` bytes.

    True when it compacted.  Run once, before any test holds a connection (it
    locks each table briefly).  A server that refuses (not a superuser) is left
    as it is: the suite only runs slower there.
    """
    if catalog_bytes(url) <= limit:
        return False
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        for table in CATALOG_TABLES:
            try:
                conn.execute(f"VACUUM FULL pg_catalog.{table}")
            except psycopg.errors.InsufficientPrivilege:
                return False
    return True


def ensure_redis(url: str) -> str | None:
    """None when Redis at ``url`` answers PING (started if needed)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if not _port_open(host, port):
        _start_redis(port)
        if not _wait_for(host, port):
            return f"Redis is not listening on {host}:{port} and could not be started"
    try:
        with redis.Redis.from_url(url, socket_timeout=5) as client:
            client.ping()
    except redis.RedisError as exc:
        return f"Redis at {host}:{port} does not answer: {exc}"
    return None
