"""partner_grants: which enterprise may read which other enterprise's partners-only values.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "partner_grants",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["enterprises.code"],
                                name=op.f("fk_partner_grants_owner_enterprises")),
        sa.ForeignKeyConstraint(["partner"], ["enterprises.code"],
                                name=op.f("fk_partner_grants_partner_enterprises")),
        sa.PrimaryKeyConstraint("owner", "partner", name=op.f("pk_partner_grants")),
    )
    op.create_index(op.f("ix_partner_grants_partner"), "partner_grants", ["partner"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_partner_grants_partner"), table_name="partner_grants")
    op.drop_table("partner_grants")
