"""PostgreSQL ``COPY`` for bulk writes: rows go in through asyncpg's binary COPY.

Used by :mod:`registry.bulk` on PostgreSQL instead of multi-row ``INSERT``
statements, for the head and value rows of a batch that has already passed every
check of the normal path.  The COPY runs on the connection of the batch's
transaction, straight into the (partitioned) target table: PostgreSQL routes each
row to its partition, keys and foreign keys are checked as for an INSERT, and a
failing row fails the statement and with it the whole transaction, so a batch is
stored completely or not at all.  (No staging table: the rows are validated
before they are sent, and a staging copy would only write them twice.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)


async def next_ids(conn: AsyncConnection, table: Table, count: int) -> list[int]:
    """``count`` new values of ``table``'s ``id`` sequence (for rows copied with their id)."""
    if count <= 0:
        return []
    result = await conn.execute(_NEXT_IDS, {"table": table.name, "count": count})
    return [int(i) for i in result.scalars()]


async def copy_rows(conn: AsyncConnection, table: Table,
                    rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY ``rows`` (insert parameters, all with the same keys) into ``table`` inside
    the transaction of ``conn`` (which must already have run a statement)."""
    if not rows:
        return
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    await copy_records(conn, table, columns, [
        tuple(json.dumps(row[name]) if name in as_json else row[name] for name in columns)
        for row in rows
    ])


async def copy_records(conn: AsyncConnection, table: Table, columns: Sequence[str],
                       records: Sequence[tuple[Any, ...]]) -> None:
    """COPY ``records`` (tuples in the order of ``columns``; JSON columns as text) into
    ``table`` inside the transaction of ``conn``."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=list(columns))
