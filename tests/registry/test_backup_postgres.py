"""PostgreSQL backup: pg_dump of the schema, pg_restore into a fresh database, audit intact."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from protocol.values import HandleValue
from registry.backup import make_backup, restore_backup
from registry.store import HandleStore
from tests._services import PgDatabase


async def test_dump_and_restore_keep_records_and_audit_chain(
    pg_url: PgDatabase, tmp_path: Path
) -> None:
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema)
    try:
        for n in range(5):
            await store.create_handle(f"88.118.8/PG-{n}", [HandleValue(1, "URL", b"https://e")],
                                      actor="test")
    finally:
        await store.close()
    dump = tmp_path / "node.dump"
    assert make_backup(pg_url.url, pg_url.schema, dump) > 0
    fresh = f"restore_{uuid.uuid4().hex[:12]}"
    admin = urlsplit(pg_url.url)._replace(path="/postgres").geturl()
    target = urlsplit(pg_url.url)._replace(path=f"/{fresh}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh}"')
    try:
        restore_backup(dump, target)
        restored = await HandleStore.open(target, schema=pg_url.schema)
        try:
            report = await restored.verify_audit()
            assert report.ok and report.rows >= 5
            assert await restored.get_handle("88.118.8/PG-4") is not None
        finally:
            await restored.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{fresh}" WITH (FORCE)')
