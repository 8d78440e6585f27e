"""Web console: login accounts, their sessions and enterprise applications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "console_users",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('operator', 'reviewer', 'enterprise_admin', 'enterprise_user')",
            name=op.f("ck_console_users_role"),
        ),
        sa.ForeignKeyConstraint(["enterprise"], ["enterprises.code"],
                                name=op.f("fk_console_users_enterprise_enterprises")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_index(op.f("ix_console_users_enterprise"), "console_users", ["enterprise"],
                    unique=False)
    op.create_table(
        "console_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE",
                                name=op.f("fk_console_sessions_user_id_console_users")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"],
                    unique=False)
    op.create_index(op.f("ix_console_sessions_expires"), "console_sessions", ["expires"],
                    unique=False)
    op.create_table(
        "enterprise_applications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("legal_representative", sa.String(length=64), nullable=False),
        sa.Column("contact_name", sa.String(length=64), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("contact_email", sa.String(length=255), nullable=False),
        sa.Column("industry", sa.String(length=16), nullable=False),
        sa.Column("requested_prefix", sa.String(length=255), nullable=True),
        sa.Column("admin_username", sa.String(length=64), nullable=False),
        sa.Column("admin_password_hash", sa.String(length=255), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')",
                           name=op.f("ck_enterprise_applications_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_applications")),
    )
    op.create_index(op.f("ix_enterprise_applications_credit_code"), "enterprise_applications",
                    ["credit_code"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("enterprise_applications")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
