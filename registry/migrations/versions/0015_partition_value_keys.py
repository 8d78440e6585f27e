"""PostgreSQL: each partition of ``handle_values`` refers to its own partition of ``handles``.

Migration 0007 gave ``handle_values`` one foreign key ``(handle_id, name_key)`` to the
partitioned ``handles``.  PostgreSQL checks it for every inserted value row with a
query against the partitioned table, pruned at run time: loading demo records
(~15 values each) that check was ~80% of the server's time for the values' ``COPY``
(377k value rows: 13.8 s, 2.3 s without the key; issue 17).  Both tables are
hash-partitioned on ``name_key`` with the same modulus, so a value row and its head
always sit in partitions of the same number: each ``handle_values_p<n>`` now refers to
``handles_p<n>`` instead (5.8 s for the same rows), with the same columns and
``ON DELETE CASCADE`` (a head deleted through ``handles`` is deleted in its partition,
whose key removes the values).  Integrity is unchanged: a value row without its head
is still refused.

SQLite is not partitioned: nothing changes there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARENT_KEY = "fk_handle_values_handle_id_handles"
_PARTITIONS = sa.text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST('handle_values' AS regclass) ORDER BY c.relname"
)


def _value_partitions() -> list[str]:
    """The partitions of ``handle_values`` (``handle_values_p<n>``)."""
    return list(op.get_bind().execute(_PARTITIONS).scalars())


def _partition_key(partition: str) -> str:
    """The name of the foreign key of value partition ``handle_values_p<n>``."""
    return f"fk_{partition}_handles"


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE handle_values DROP CONSTRAINT {_PARENT_KEY}")
    for partition in _value_partitions():
        number = partition.rsplit("_p", 1)[1]
        op.execute(
            f"ALTER TABLE {partition} ADD CONSTRAINT {_partition_key(partition)} "
            f"FOREIGN KEY (handle_id, name_key) REFERENCES handles_p{number} (id, name_key) "
            "ON DELETE CASCADE"
        )


def downgrade() -> None:
    """Undo this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for partition in _value_partitions():
        op.execute(f"ALTER TABLE {partition} DROP CONSTRAINT {_partition_key(partition)}")
    op.execute(
        f"ALTER TABLE handle_values ADD CONSTRAINT {_PARENT_KEY} FOREIGN KEY "
        "(handle_id, name_key) REFERENCES handles (id, name_key) ON DELETE CASCADE"
    )
