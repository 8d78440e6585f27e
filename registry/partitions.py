"""PostgreSQL hash partitioning of the handle tables: how many partitions, and what they hold.

``handles`` and ``handle_values`` are both ``PARTITION BY HASH (name_key)`` on
PostgreSQL (migration ``0007``), with the same modulus, so one handle's head row
and values sit in partitions of the same number and every query that names the
handle key is pruned to one partition of each table.  SQLite is not partitioned.

The partition count is fixed when the migration runs: ``pg_partitions`` in the
node configuration, ``-x pg_partitions=N`` for the ``alembic`` command line, else
:data:`DEFAULT_PG_PARTITIONS`.  Changing it later means a dump and reload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

DEFAULT_PG_PARTITIONS = 16
MAX_PG_PARTITIONS = 1024
PARTITIONED_TABLES = ("handles", "handle_values")
_PARTITION_NAME = re.compile(rf"(?:{'|'.join(PARTITIONED_TABLES)})_p[0-9]+")


def is_partition(table: str) -> bool:
    """Whether ``table`` is one of the partitions (``handles_p3``...), not a table of the
    models (schema comparisons leave them out)."""
    return _PARTITION_NAME.fullmatch(table) is not None


def partition_count(raw: object, origin: str = "pg_partitions") -> int:
    """``raw`` as a partition count, 1 to :data:`MAX_PG_PARTITIONS`; ValueError names ``origin``."""
    try:
        count = int(str(raw))
    except ValueError:
        raise ValueError(f"{origin}: {raw!r} is not a whole number") from None
    if not 1 <= count <= MAX_PG_PARTITIONS:
        raise ValueError(f"{origin}: {count} is not between 1 and {MAX_PG_PARTITIONS}")
    return count


def chosen_count(attributes: Mapping[str, object], x_arguments: Mapping[str, str]) -> int:
    """The count a migration uses: the caller's attribute, the ``-x`` argument or the default."""
    if attributes.get("pg_partitions") is not None:
        return partition_count(attributes["pg_partitions"])
    if "pg_partitions" in x_arguments:
        return partition_count(x_arguments["pg_partitions"], "-x pg_partitions")
    return DEFAULT_PG_PARTITIONS


_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST(:table AS regclass) ORDER BY c.relname"
)
_SIZE = text("SELECT pg_table_size(CAST(:t AS regclass)), pg_indexes_size(CAST(:t AS regclass))")


async def partitions_of(conn: AsyncConnection, table: str) -> list[str]:
    """The partitions of ``table`` in the current schema (empty when it is not partitioned)."""
    return list((await conn.execute(_PARTITIONS, {"table": table})).scalars())


async def table_sizes(conn: AsyncConnection, table: str) -> tuple[int, int]:
    """``(table bytes, index bytes)`` of ``table``, summed over its partitions (TOAST
    counts as table)."""
    parts = await partitions_of(conn, table) or [table]
    data = index = 0
    for part in parts:
        row = (await conn.execute(_SIZE, {"t": part})).one()
        data, index = data + int(row[0]), index + int(row[1])
    return data, index
