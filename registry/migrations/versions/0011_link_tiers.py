"""handle_links.tier: who may see a where-used link (the tier of the value it comes from).

Existing links are ``public``; a record's links are re-read from its values on
its next write.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("handle_links", sa.Column("tier", sa.String(length=16), nullable=False,
                                            server_default="public"))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("handle_links") as batch:
        batch.drop_column("tier")
