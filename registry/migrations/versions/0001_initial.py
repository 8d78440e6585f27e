"""Initial schema: every table the registry needs (one chain, later revisions build on it).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=1024), nullable=True),
        sa.Column("before", sa.String(length=64), nullable=True),
        sa.Column("after", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_handle"), "audit_log", ["handle"], unique=False)
    op.create_table(
        "data_templates",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_data_templates")),
    )
    op.create_table(
        "enterprises",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("industry", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "industry IN ('appliance', 'machinery', 'rubber', 'other')",
            name=op.f("ck_enterprises_industry"),
        ),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_enterprises_status")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_enterprises")),
    )
    op.create_table(
        "handle_links",
        sa.Column("from_key", sa.String(length=1024), nullable=False),
        sa.Column("to_key", sa.String(length=1024), nullable=False),
        sa.Column("relation", sa.String(length=64), nullable=False),
        sa.Column("from_handle", sa.String(length=1024), nullable=False),
        sa.Column("to_handle", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("from_key", "to_key", "relation", name=op.f("pk_handle_links")),
    )
    op.create_index(op.f("ix_handle_links_to_key"), "handle_links", ["to_key"], unique=False)
    op.create_table(
        "import_jobs",
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("source_digest", sa.String(length=128), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_import_jobs")),
    )
    op.create_table(
        "stats_counters",
        sa.Column("period", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prefix", sa.String(length=255), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "prefix", "metric", name=op.f("pk_stats_counters")),
    )
    op.create_table(
        "credentials",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("enterprise", sa.String(length=64), nullable=True),
        sa.Column("admin_handle", sa.String(length=1024), nullable=False),
        sa.Column("admin_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('seckey', 'pubkey')", name=op.f("ck_credentials_kind")),
        sa.ForeignKeyConstraint(
            ["enterprise"], ["enterprises.code"], name=op.f("fk_credentials_enterprise_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    op.create_index(
        op.f("ix_credentials_admin_handle"), "credentials", ["admin_handle"], unique=False
    )
    op.create_index(op.f("ix_credentials_enterprise"), "credentials", ["enterprise"], unique=False)
    op.create_table(
        "handles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("name_key", sa.String(length=1024), nullable=False),
        sa.Column("prefix", sa.String(length=255), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise"], ["enterprises.code"], name=op.f("fk_handles_enterprise_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handles")),
        sa.UniqueConstraint("name_key", name=op.f("uq_handles_name_key")),
    )
    op.create_index(op.f("ix_handles_enterprise"), "handles", ["enterprise"], unique=False)
    op.create_index("ix_handles_prefix_name_key", "handles", ["prefix", "name_key"], unique=False)
    op.create_table(
        "prefixes",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "kind IN ('hosted', 'delegated', 'root-managed')", name=op.f("ck_prefixes_kind")
        ),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_prefixes_status")),
        sa.ForeignKeyConstraint(
            ["owner"], ["enterprises.code"], name=op.f("fk_prefixes_owner_enterprises")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_prefixes")),
    )
    op.create_index(op.f("ix_prefixes_owner"), "prefixes", ["owner"], unique=False)
    op.create_table(
        "handle_values",
        sa.Column(
            "handle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("ttl_type", sa.Integer(), nullable=False),
        sa.Column("ttl", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("admin_read", sa.Boolean(), nullable=False),
        sa.Column("admin_write", sa.Boolean(), nullable=False),
        sa.Column("public_read", sa.Boolean(), nullable=False),
        sa.Column("public_write", sa.Boolean(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handle_id"],
            ["handles.id"],
            name=op.f("fk_handle_values_handle_id_handles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handle_id", "idx", name=op.f("pk_handle_values")),
    )
    op.create_index(op.f("ix_handle_values_type"), "handle_values", ["type"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_handle_values_type"), table_name="handle_values")
    op.drop_table("handle_values")
    op.drop_index(op.f("ix_prefixes_owner"), table_name="prefixes")
    op.drop_table("prefixes")
    op.drop_index("ix_handles_prefix_name_key", table_name="handles")
    op.drop_index(op.f("ix_handles_enterprise"), table_name="handles")
    op.drop_table("handles")
    op.drop_index(op.f("ix_credentials_enterprise"), table_name="credentials")
    op.drop_index(op.f("ix_credentials_admin_handle"), table_name="credentials")
    op.drop_table("credentials")
    op.drop_table("stats_counters")
    op.drop_table("import_jobs")
    op.drop_index(op.f("ix_handle_links_to_key"), table_name="handle_links")
    op.drop_table("handle_links")
    op.drop_table("enterprises")
    op.drop_table("data_templates")
    op.drop_index(op.f("ix_audit_log_handle"), table_name="audit_log")
    op.drop_table("audit_log")
