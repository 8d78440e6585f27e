"""SQLite statements make one trip to aiosqlite's thread each and behave as before."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from registry.db import open_engine


async def test_one_trip_per_statement_with_rows_counts_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        trips = 0
        execute = aiosqlite.Connection._execute

        async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal trips
            trips += 1
            return await execute(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # after the BEGIN IMMEDIATE of the write engine
            trips = 0
            many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"),
                                      [{"n": "a"}, {"n": "b"}, {"n": "c"}])
            assert (trips, many.rowcount) == (1, 3)
            trips = 0
            new = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
            assert (trips, new.scalar_one()) == (1, 4)
            trips = 0
            rows = await conn.execute(text("SELECT id, name FROM t WHERE id > :i ORDER BY id"),
                                      {"i": 1})
            assert trips == 1
            assert [tuple(r) for r in rows] == [(2, "b"), (3, "c"), (4, "d")]
            changed = await conn.execute(text("UPDATE t SET name = name || 'x' WHERE id < 3"))
            assert changed.rowcount == 2
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (name) VALUES ('ax')"))
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 4
            await conn.commit()
    finally:
        await engine.dispose()
