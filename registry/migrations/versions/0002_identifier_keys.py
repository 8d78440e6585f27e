"""identifier_keys: other schemes' identifiers (GS1, OID) of each handle, by canonical key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "identifier_keys",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("name_key", sa.String(length=1024), nullable=False),
        sa.Column("handle", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["name_key"], ["handles.name_key"],
            name=op.f("fk_identifier_keys_name_key_handles"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_identifier_keys")),
    )
    op.create_index(op.f("ix_identifier_keys_name_key"), "identifier_keys", ["name_key"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_identifier_keys_name_key"), table_name="identifier_keys")
    op.drop_table("identifier_keys")
