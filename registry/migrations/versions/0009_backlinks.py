"""backlinks and backlink_outbox: where-used links across nodes (registry/backlinks.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "backlinks",
        sa.Column("part_key", sa.String(length=1024), nullable=False),
        sa.Column("product_key", sa.String(length=1024), nullable=False),
        sa.Column("relation", sa.String(length=64), nullable=False),
        sa.Column("part_handle", sa.String(length=1024), nullable=False),
        sa.Column("product_handle", sa.String(length=1024), nullable=False),
        sa.Column("product_prefix", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("part_key", "product_key", "relation",
                                name=op.f("pk_backlinks")),
    )
    op.create_index(op.f("ix_backlinks_product_prefix"), "backlinks", ["product_prefix"])
    op.create_table(
        "backlink_outbox",
        sa.Column("product_key", sa.String(length=1024), nullable=False),
        sa.Column("part_key", sa.String(length=1024), nullable=False),
        sa.Column("relation", sa.String(length=64), nullable=False),
        sa.Column("product_handle", sa.String(length=1024), nullable=False),
        sa.Column("part_handle", sa.String(length=1024), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("queued", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("product_key", "part_key", "relation",
                                name=op.f("pk_backlink_outbox")),
    )
    op.create_index(op.f("ix_backlink_outbox_next_try"), "backlink_outbox", ["next_try"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_backlink_outbox_next_try"), table_name="backlink_outbox")
    op.drop_table("backlink_outbox")
    op.drop_index(op.f("ix_backlinks_product_prefix"), table_name="backlinks")
    op.drop_table("backlinks")
