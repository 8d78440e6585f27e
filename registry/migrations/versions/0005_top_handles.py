"""top_handles: resolutions of each prefix's most asked handles per day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "top_handles",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prefix", sa.String(length=255), nullable=False),
        sa.Column("handle", sa.String(length=1024), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "prefix", "handle", name=op.f("pk_top_handles")),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("top_handles")
