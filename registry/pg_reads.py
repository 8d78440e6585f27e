"""Point reads of a PostgreSQL registry straight on asyncpg, one prepared statement each.

A resolution that misses every cache reads one handle by its lookup key.  Through
SQLAlchemy that read cost the event loop a pool checkout and check-in and an
execution (each a greenlet switch and SQLAlchemy's bookkeeping, then the result's
row processing) around one round trip to the server (issue 17: 1,562 cold
answers/s with 2 workers, p99 136 ms).  :class:`PointReader` keeps up to
``size`` connections checked out of the store's autocommit read pool for good
(so they are made exactly as every other connection: server settings, schema
search path) and sends the statement on them with asyncpg directly, prepared once
per connection (its plan too: :data:`PLAN_CACHE_MODE`): one Bind/Execute round
trip per read, rows as asyncpg returns
them (bytea as bytes, JSON as text: :func:`registry.valuerows.row_value` reads
both).  At most ``size`` reads run at once; the others wait their turn (sized
to the in-flight load of one serving process, not to the number of requests).

A connection that fails or is interrupted mid-read is dropped (the next read
opens another); a read that finds its connection gone (the server restarted)
is tried once more on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: the lookup's plan is made once per connection: with partitioned tables PostgreSQL
#: otherwise re-plans every execution (a custom plan is estimated cheaper than the
#: generic one, which prunes partitions when it runs: 0.2 ms instead of planning 16
#: partitions of two tables each time); set on the connections held here only
PLAN_CACHE_MODE = "force_generic_plan"
#: connection failures after which a read is tried once more on a new connection
_GONE = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, ConnectionError)


@dataclass(slots=True)
class _Held:
    """A connection checked out of the pool, its asyncpg connection and prepared statements."""

    conn: AsyncConnection
    driver: Any
    prepared: dict[str, Any] = field(default_factory=dict)


class PointReader:
    """Reads on up to ``size`` asyncpg connections of ``engine`` (an autocommit engine)."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.engine = engine
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Held] = []

    async def rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Every row of ``sql`` (``$1``-style parameters) with ``params``."""
        async with self._slots:
            try:
                return await self._run(sql, params)
            except _GONE:
                return await self._run(sql, params)

    async def _run(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        held = await self._take()
        try:
            statement = held.prepared.get(sql)
            if statement is None:
                statement = held.prepared[sql] = await held.driver.prepare(sql)
            rows: list[Any] = await statement.fetch(*params)
        except BaseException:
            await self._drop(held)
            raise
        self._idle.append(held)
        return rows

    async def _take(self) -> _Held:
        """An idle connection still open, else a new one."""
        while self._idle:
            held = self._idle.pop()
            if not held.driver.is_closed():
                return held
            await self._drop(held)
        return await self._open()

    async def _open(self) -> _Held:
        conn = await self.engine.connect()
        try:
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        held = _Held(conn, raw.driver_connection)
        try:
            await held.driver.execute(f"SET plan_cache_mode = {PLAN_CACHE_MODE}")
        except BaseException:
            await self._drop(held)
            raise
        return held

    @staticmethod
    async def _drop(held: _Held) -> None:
        """Give a connection whose state is unknown back to the pool as unusable."""
        with contextlib.suppress(Exception):
            await held.conn.invalidate()
        with contextlib.suppress(Exception):
            await held.conn.close()

    async def close(self) -> None:
        """Give every idle connection back to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for held in idle:
            with contextlib.suppress(Exception):
                await held.driver.execute("RESET plan_cache_mode")
                await held.conn.close()
