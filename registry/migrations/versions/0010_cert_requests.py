"""cert_requests: certificate requests queued for review (registry/cert_requests.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cert_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=1024), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=True),
        sa.Column("key_thumbprint", sa.String(length=64), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=255), nullable=False),
        sa.Column("submitted", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("decided", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')",
                           name=op.f("ck_cert_requests_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cert_requests")),
    )
    op.create_index(op.f("ix_cert_requests_enterprise"), "cert_requests", ["enterprise"])
    op.create_index(op.f("ix_cert_requests_state"), "cert_requests", ["state"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_cert_requests_state"), table_name="cert_requests")
    op.drop_index(op.f("ix_cert_requests_enterprise"), table_name="cert_requests")
    op.drop_table("cert_requests")
