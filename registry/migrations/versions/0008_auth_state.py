"""auth_state: open authentication challenges and sessions, shared by every process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "auth_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("pool", sa.String(length=32), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_state")),
    )
    op.create_index("ix_auth_state_pool_expires", "auth_state", ["pool", "expires"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("ix_auth_state_pool_expires", table_name="auth_state")
    op.drop_table("auth_state")
