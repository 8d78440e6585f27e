"""Fewer index pages a write touches: no index on handle_values.type or changes.time, and
SQLite's change feed without AUTOINCREMENT.

A create over the Handle protocol wrote ~16.6 SQLite pages (issue 17); 2.5 of them were
leaves of ``ix_handle_values_type``, which no query uses (values are always read by their
handle), one ``ix_changes_time`` (the feed is now pruned by ``seq``, see
:mod:`registry.changes`) and one ``sqlite_sequence`` (AUTOINCREMENT's counter).  The
feed's numbers still never repeat: the prune keeps the newest row, so SQLite's next
rowid (the largest plus one) never goes back; a feed the old prune left emptier than its
counter gets one row at that number (an empty handle name, which no cache holds) for
the same reason.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _changes_table(name: str, *, autoincrement: bool) -> None:
    """Create the change feed's table as ``name`` (0003's columns)."""
    op.create_table(
        name,
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("handle", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('handle', 'prefix')", name=op.f("ck_changes_kind")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
        sqlite_autoincrement=autoincrement,
    )


def _rebuild_changes(*, autoincrement: bool) -> None:
    """SQLite: the change feed's table again, with or without AUTOINCREMENT, rows kept."""
    bind = op.get_bind()
    counter = bind.execute(sa.text(
        "SELECT seq FROM sqlite_sequence WHERE name = 'changes'")).scalar() if (
        bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"))
        .first()) else None
    _changes_table("changes_rebuilt", autoincrement=autoincrement)
    op.execute("INSERT INTO changes_rebuilt (seq, handle, kind, time) "
               "SELECT seq, handle, kind, time FROM changes")
    newest = bind.execute(sa.text("SELECT max(seq) FROM changes_rebuilt")).scalar()
    if counter is not None and (newest is None or newest < counter):
        # numbers up to the counter were handed out: the next one must follow them
        op.execute(sa.text("INSERT INTO changes_rebuilt (seq, handle, kind, time) "
                           "VALUES (:seq, '', 'handle', CURRENT_TIMESTAMP)")
                   .bindparams(seq=counter))
    op.drop_table("changes")
    op.rename_table("changes_rebuilt", "changes")


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_handle_values_type", table_name="handle_values")
    op.drop_index("ix_changes_time", table_name="changes")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_changes(autoincrement=False)


def downgrade() -> None:
    """Undo this revision."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_changes(autoincrement=True)
    op.create_index("ix_changes_time", "changes", ["time"], unique=False)
    op.create_index("ix_handle_values_type", "handle_values", ["type"], unique=False)
