"""Hash-partitioned handle tables on PostgreSQL; ``handle_values.name_key`` on both backends.

PostgreSQL: ``handles`` and ``handle_values`` become ``PARTITION BY HASH
(name_key)`` with the same number of partitions (:mod:`registry.partitions`:
``pg_partitions``, default 16), so a lookup by handle key reads one partition
of each.  PostgreSQL wants every unique key of a partitioned table to contain
the partition key: ``handles`` keeps ``UNIQUE (name_key)`` and its primary key
becomes ``(id, name_key)``; ``handle_values`` gets the handle's ``name_key``,
its primary key ``(handle_id, idx, name_key)`` and its foreign key
``(handle_id, name_key)`` to ``handles``.  Existing rows are copied into the
new tables in this migration's transaction; the id sequence is kept.

SQLite is not partitioned: it only gets the ``name_key`` column, filled from
``handles``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from registry.partitions import chosen_count

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HANDLE_COLUMNS = """
    id BIGINT NOT NULL DEFAULT nextval('handles_id_seq'::regclass),
    name VARCHAR(1024) NOT NULL,
    name_key VARCHAR(1024) NOT NULL,
    prefix VARCHAR(255) NOT NULL,
    enterprise VARCHAR(64),
    version INTEGER NOT NULL,
    created TIMESTAMP WITH TIME ZONE NOT NULL,
    updated TIMESTAMP WITH TIME ZONE NOT NULL"""
_VALUE_COLUMNS = """
    type VARCHAR(255) NOT NULL,
    data BYTEA NOT NULL,
    ttl_type INTEGER NOT NULL,
    ttl BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    admin_read BOOLEAN NOT NULL,
    admin_write BOOLEAN NOT NULL,
    public_read BOOLEAN NOT NULL,
    public_write BOOLEAN NOT NULL,
    "references" JSON NOT NULL"""
_VALUE_NAMES = ("type, data, ttl_type, ttl, timestamp, admin_read, admin_write, public_read, "
                'public_write, "references"')
_HANDLE_NAMES = "id, name, name_key, prefix, enterprise, version, created, updated"
_KEYS_FK = ("ALTER TABLE identifier_keys ADD CONSTRAINT fk_identifier_keys_name_key_handles "
            "FOREIGN KEY (name_key) REFERENCES handles (name_key) ON DELETE CASCADE")


def _partitioned(table: str, columns: str, partitions: int) -> list[str]:
    """DDL of ``{table}_new`` hash-partitioned by name_key into ``{table}_p<n>``."""
    return [f"CREATE TABLE {table}_new ({columns}) PARTITION BY HASH (name_key)"] + [
        f"CREATE TABLE {table}_p{n} PARTITION OF {table}_new "
        f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {n})"
        for n in range(partitions)
    ]


def _swap(handles_copy: str, values_copy: str, keys: tuple[str, str, str]) -> list[str]:
    """Copy into the ``*_new`` tables, drop the old ones, rename, add keys and indexes;
    ``keys`` = primary keys of handles and values, and the values' reference to handles."""
    handle_key, value_key, value_fk = keys
    return [
        "ALTER TABLE identifier_keys DROP CONSTRAINT fk_identifier_keys_name_key_handles",
        "ALTER SEQUENCE handles_id_seq OWNED BY NONE",
        handles_copy,
        values_copy,
        "DROP TABLE handle_values",
        "DROP TABLE handles",
        "ALTER TABLE handles_new RENAME TO handles",
        "ALTER TABLE handle_values_new RENAME TO handle_values",
        "ALTER SEQUENCE handles_id_seq OWNED BY handles.id",
        f"ALTER TABLE handles ADD CONSTRAINT pk_handles PRIMARY KEY ({handle_key}), "
        "ADD CONSTRAINT uq_handles_name_key UNIQUE (name_key), "
        "ADD CONSTRAINT fk_handles_enterprise_enterprises FOREIGN KEY (enterprise) "
        "REFERENCES enterprises (code)",
        "CREATE INDEX ix_handles_enterprise ON handles (enterprise)",
        "CREATE INDEX ix_handles_prefix_name_key ON handles (prefix, name_key)",
        f"ALTER TABLE handle_values ADD CONSTRAINT pk_handle_values PRIMARY KEY ({value_key}), "
        f"ADD CONSTRAINT fk_handle_values_handle_id_handles FOREIGN KEY "
        f"({value_fk}) REFERENCES handles ({handle_key}) "
        "ON DELETE CASCADE",
        "CREATE INDEX ix_handle_values_type ON handle_values (type)",
        _KEYS_FK,
        "ANALYZE handles",
        "ANALYZE handle_values",
    ]


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        op.add_column("handle_values", sa.Column("name_key", sa.String(length=1024),
                                                 nullable=False, server_default=""))
        op.execute("UPDATE handle_values SET name_key = (SELECT name_key FROM handles "
                   "WHERE handles.id = handle_values.handle_id)")
        return
    config = context.config
    partitions = chosen_count(config.attributes, context.get_x_argument(as_dictionary=True))
    values = (f"handle_id BIGINT NOT NULL, name_key VARCHAR(1024) NOT NULL, "
              f"idx INTEGER NOT NULL, {_VALUE_COLUMNS}")
    statements = [
        *_partitioned("handles", _HANDLE_COLUMNS, partitions),
        *_partitioned("handle_values", values, partitions),
        *_swap(
            f"INSERT INTO handles_new SELECT {_HANDLE_NAMES} FROM handles",
            f"INSERT INTO handle_values_new SELECT v.handle_id, h.name_key, v.idx, "
            f"{', '.join('v.' + c.strip() for c in _VALUE_NAMES.split(','))} "
            "FROM handle_values v JOIN handles h ON h.id = v.handle_id",
            ("id, name_key", "handle_id, idx, name_key", "handle_id, name_key"),
        ),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Undo this revision (PostgreSQL: back to plain tables, rows copied)."""
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("handle_values") as batch:
            batch.drop_column("name_key")
        return
    values = f"handle_id BIGINT NOT NULL, idx INTEGER NOT NULL, {_VALUE_COLUMNS}"
    statements = [
        f"CREATE TABLE handles_new ({_HANDLE_COLUMNS})",
        f"CREATE TABLE handle_values_new ({values})",
        *_swap(
            f"INSERT INTO handles_new SELECT {_HANDLE_NAMES} FROM handles",
            f"INSERT INTO handle_values_new SELECT handle_id, idx, {_VALUE_NAMES} "
            "FROM handle_values",
            ("id", "handle_id, idx", "handle_id"),
        ),
    ]
    for statement in statements:
        op.execute(statement)
