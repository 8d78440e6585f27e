"""Fixtures of the registry tests."""

from __future__ import annotations

import math

import aiosqlite
import pytest

from registry import changes
from tests._services import PgDatabase


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the function of every trip to aiosqlite's thread from now on.

    The change feed's prune (a statement of its own, run by whichever write comes
    :data:`registry.changes.PRUNE_SECONDS` after the last) is held off meanwhile: else
    a test counting a write's trips sees one more when that moment falls in it."""
    made: list[str] = []
    monkeypatch.setattr(changes, "_pruned", math.inf)
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(getattr(fn, "__name__", "?"))
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, sqlite_url: str) -> tuple[str, str | None]:
    """(url, schema) of a database nothing has touched yet."""
    if request.param == "sqlite":
        return sqlite_url, None
    pg: PgDatabase = request.getfixturevalue("pg_url")
    return pg.url, pg.schema
