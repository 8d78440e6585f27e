"""SQLite: ``handle_values`` becomes a ``WITHOUT ROWID`` table, clustered by its key.

With a rowid, SQLite kept the table's rows in rowid order and its primary key
``(handle_id, idx)`` in a separate index (``sqlite_autoindex_handle_values_1``): a
resolution that misses every cache found a record's ~15 value rows in that index and
then looked each one up by rowid, a second B-tree descent per value, and every create
or import wrote both B-trees.  ``WITHOUT ROWID`` stores the rows in the primary key's
B-tree itself: a record's values are one contiguous range read in index order, and a
write touches one B-tree (issue 17).  Every statement on the table names the key's
leading column (``handle_id``), so none needs the rowid.

The table is rebuilt with the same columns, keys and ``ON DELETE CASCADE`` (SQLite
cannot change this in place); the rows are copied in key order, in the migration's
transaction: 1.9M value rows (122k demo records) took ~9 s, and the file keeps the old
table's pages as free pages for later writes.  PostgreSQL keeps its partitioned tables
(:mod:`registry.partitions`): nothing changes there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("handle_id, idx, type, data, ttl_type, ttl, timestamp, admin_read, admin_write, "
            'public_read, public_write, "references", name_key')


def _values_table(name: str, *, with_rowid: bool) -> None:
    """Create SQLite's value table as ``name``: 0001's columns and 0007's ``name_key``."""
    op.create_table(
        name,
        sa.Column("handle_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("ttl_type", sa.Integer(), nullable=False),
        sa.Column("ttl", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("admin_read", sa.Boolean(), nullable=False),
        sa.Column("admin_write", sa.Boolean(), nullable=False),
        sa.Column("public_read", sa.Boolean(), nullable=False),
        sa.Column("public_write", sa.Boolean(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("name_key", sa.String(length=1024), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["handle_id"], ["handles.id"],
                                name=op.f("fk_handle_values_handle_id_handles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("handle_id", "idx", name=op.f("pk_handle_values")),
        sqlite_with_rowid=with_rowid,
    )


def _rebuild_values(*, with_rowid: bool) -> None:
    """SQLite: the value table again, with or without a rowid, rows kept."""
    _values_table("handle_values_rebuilt", with_rowid=with_rowid)
    op.execute(f"INSERT INTO handle_values_rebuilt ({_COLUMNS}) "
               f"SELECT {_COLUMNS} FROM handle_values ORDER BY handle_id, idx")
    op.drop_table("handle_values")
    op.rename_table("handle_values_rebuilt", "handle_values")


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_values(with_rowid=False)


def downgrade() -> None:
    """Undo this revision."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_values(with_rowid=True)
