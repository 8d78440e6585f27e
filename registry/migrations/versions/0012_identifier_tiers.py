"""identifier_keys.public: whether the value naming another scheme's code may be read by anyone.

Only a public binding answers ``/api/resolve``, GS1 Digital Link and DNS, so a
partners-only or owner-only ``ID.*`` value does not leak through the index.
Existing bindings are public; a record's bindings are re-read on its next write.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("identifier_keys", sa.Column("public", sa.Boolean(), nullable=False,
                                               server_default=sa.true()))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("identifier_keys") as batch:
        batch.drop_column("public")
