"""Handle links (where-used), data templates and usage counters."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.base import StoreBase
from registry.errors import InvalidArgument
from registry.models import DataTemplate, HandleLink, StatsCounter, TopHandle, table_of, utcnow
from registry.names import name_key
from registry.records import CounterRow, TemplateInfo

_L = table_of(HandleLink)
_T = table_of(DataTemplate)
_S = table_of(StatsCounter)
_TOP = table_of(TopHandle)

Counter = tuple[str, str, datetime, int]


async def _upsert(
    conn: AsyncConnection, table: Any, rows: list[dict[str, Any]], set_: dict[str, Any]
) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE on either backend."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    update = {k: v(stmt.excluded) if callable(v) else v for k, v in set_.items()}
    await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)


class CatalogMixin(StoreBase):
    """Links between handles, data templates and statistics counters."""

    # --- templates ---------------------------------------------------------

    async def put_template(self, name: str, version: int, schema: str | dict[str, Any]) -> None:
        """Store (or overwrite) version ``version`` of template ``name`` (JSON Schema)."""
        text = schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True)
        try:
            json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"template {name} v{version} is not JSON: {exc}") from exc
        row = {"name": name, "version": version, "schema": text, "created": utcnow()}
        async with self._write() as conn:
            await _upsert(conn, _T, [row], {"schema": text, "created": row["created"]})

    async def get_template(self, name: str, version: int | None = None) -> TemplateInfo | None:
        """Template ``name`` at ``version`` (newest when None), or None."""
        query = select(_T).where(_T.c.name == name).order_by(_T.c.version.desc()).limit(1)
        if version is not None:
            query = query.where(_T.c.version == version)
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else TemplateInfo(*row)

    async def list_templates(self) -> list[TemplateInfo]:
        """Every template version, by name then version."""
        async with self._read() as conn:
            rows = await conn.execute(select(_T).order_by(_T.c.name, _T.c.version))
            return [TemplateInfo(*row) for row in rows]

    # --- counters ----------------------------------------------------------

    async def bump_counter(
        self, metric: str, prefix: str, period: datetime, n: int = 1
    ) -> None:
        """Add ``n`` to ``metric`` of ``prefix`` ("" = node) for the period starting ``period``."""
        await self.bump_counters([(metric, prefix, period, n)])

    async def bump_counters(self, counters: Iterable[Counter]) -> None:
        """Add many ``(metric, prefix, period, n)`` increments in one transaction."""
        await self._add_counts(_S, ("metric", "prefix", "period"),
                               ((m, name_key(p), t, n) for m, p, t, n in counters))

    async def bump_top_handles(self, counts: Iterable[tuple[datetime, str, str, int]]) -> None:
        """Add ``(day, prefix, handle, n)`` resolution counts of the most asked handles."""
        await self._add_counts(_TOP, ("day", "prefix", "handle"),
                               ((d, name_key(p), h, n) for d, p, h, n in counts))

    async def _add_counts(
        self, table: Any, keys: tuple[str, ...], increments: Iterable[tuple[Any, ...]]
    ) -> None:
        """Add each ``(*key values, n)`` to the ``count`` of ``table``'s row of that key, in
        one transaction (rows created as needed; repeated keys summed first)."""
        totals: dict[tuple[Any, ...], int] = {}
        for *key, n in increments:
            totals[tuple(key)] = totals.get(tuple(key), 0) + n
        if not totals:
            return
        rows = [{**dict(zip(keys, key, strict=True)), "count": n}
                for key, n in sorted(totals.items())]
        async with self._write() as conn:
            await _upsert(conn, table, rows, {"count": lambda new: table.c.count + new.count})

    async def top_handles(
        self, prefixes: Iterable[str], *, since: datetime, limit: int = 10
    ) -> list[tuple[str, int]]:
        """The most resolved handles under ``prefixes`` since ``since``, most first."""
        total = func.sum(_TOP.c.count).label("total")
        query = (select(_TOP.c.handle, total)
                 .where(_TOP.c.prefix.in_([name_key(p) for p in prefixes]),
                        _TOP.c.day >= since)
                 .group_by(_TOP.c.handle).order_by(total.desc(), _TOP.c.handle).limit(limit))
        async with self._read() as conn:
            return [(row[0], int(row[1])) for row in await conn.execute(query)]

    async def read_counters(
        self,
        *,
        metric: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CounterRow]:
        """Counters by period, prefix and metric; ``since`` inclusive, ``until`` exclusive."""
        query = select(_S.c.period, _S.c.prefix, _S.c.metric, _S.c.count).order_by(
            _S.c.period, _S.c.prefix, _S.c.metric
        )
        if metric is not None:
            query = query.where(_S.c.metric == metric)
        if prefix is not None:
            query = query.where(_S.c.prefix == name_key(prefix))
        if since is not None:
            query = query.where(_S.c.period >= since)
        if until is not None:
            query = query.where(_S.c.period < until)
        async with self._read() as conn:
            return [CounterRow(*row) for row in await conn.execute(query)]
