"""cert_requests.cert_index/cert_expires: where an approved request's HS_CERT was written.

The subject's handle is the request's; the index and expiry are filled in by
the approval (console or ``idnode cert approve``) so the enterprise portal can
show the certificate.  Requests approved earlier keep them empty.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("cert_requests", sa.Column("cert_index", sa.Integer(), nullable=True))
    op.add_column("cert_requests",
                  sa.Column("cert_expires", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("cert_requests") as batch:
        batch.drop_column("cert_expires")
        batch.drop_column("cert_index")
