"""SQLAlchemy 2.0 models: every table of the registry.

The store runs Core statements on ``Model.__table__`` for speed; the ORM
classes are the single description of the schema that the initial migration
(``registry/migrations/versions/0001_initial.py``) reproduces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# INTEGER PRIMARY KEY is SQLite's rowid (fast); PostgreSQL gets 64 bits.
BigId = BigInteger().with_variant(Integer(), "sqlite")

PREFIX_KINDS = ("hosted", "delegated", "root-managed")
INDUSTRIES = ("appliance", "machinery", "rubber", "other")
ENTERPRISE_STATUSES = ("active", "suspended")
PREFIX_STATUSES = ("active", "suspended")
CREDENTIAL_KINDS = ("seckey", "pubkey")
CHANGE_KINDS = ("handle", "prefix")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[Base]) -> Table:
    """The Core table behind ``model`` (the store runs Core statements on it)."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _one_of(column: str, allowed: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in allowed)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


class Base(DeclarativeBase):
    """Declarative base of the registry models (deterministic constraint names)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Enterprise(Base):
    """An enterprise that owns prefixes and handles on this node."""

    __tablename__ = "enterprises"
    __table_args__ = (_one_of("industry", INDUSTRIES), _one_of("status", ENTERPRISE_STATUSES))

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    industry: Mapped[str] = mapped_column(String(16), default="other")
    status: Mapped[str] = mapped_column(String(16), default="active")
    quota: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Prefix(Base):
    """A prefix this node hosts, delegates or manages for the root."""

    __tablename__ = "prefixes"
    __table_args__ = (_one_of("kind", PREFIX_KINDS), _one_of("status", PREFIX_STATUSES))

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="hosted")
    owner: Mapped[str | None] = mapped_column(ForeignKey("enterprises.code"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="active")


class Handle(Base):
    """A handle record's head row; ``version`` drives optimistic concurrency."""

    __tablename__ = "handles"
    __table_args__ = (Index("ix_handles_prefix_name_key", "prefix", "name_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(1024))
    name_key: Mapped[str] = mapped_column(String(1024), unique=True)
    prefix: Mapped[str] = mapped_column(String(255))
    enterprise: Mapped[str | None] = mapped_column(ForeignKey("enterprises.code"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the record's values as one blob ready for the wire (:mod:`protocol.record_image`),
    #: written with the value rows; NULL when the wire cannot carry them exactly
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class HandleValueRow(Base):
    """One value of a handle: the columns of :class:`protocol.values.HandleValue`.

    ``name_key`` repeats the handle's key: PostgreSQL partitions this table by it
    like ``handles`` (:mod:`registry.partitions`), and its keys include it there.
    SQLite keeps the rows in their primary key's B-tree (``WITHOUT ROWID``, migration
    0016): a record's values are one contiguous range of it.
    """

    __tablename__ = "handle_values"
    __table_args__ = ({"sqlite_with_rowid": False},)

    handle_id: Mapped[int] = mapped_column(
        ForeignKey("handles.id", ondelete="CASCADE"), primary_key=True
    )
    name_key: Mapped[str] = mapped_column(String(1024))
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: not indexed: values are read by their handle (an index cost a create 2.5 pages)
    type: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    ttl_type: Mapped[int] = mapped_column(Integer, default=0)
    ttl: Mapped[int] = mapped_column(BigInteger, default=86400)
    timestamp: Mapped[int] = mapped_column(BigInteger, default=0)
    admin_read: Mapped[bool] = mapped_column(Boolean, default=True)
    admin_write: Mapped[bool] = mapped_column(Boolean, default=True)
    public_read: Mapped[bool] = mapped_column(Boolean, default=True)
    public_write: Mapped[bool] = mapped_column(Boolean, default=False)
    references: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Credential(Base):
    """A key registered for an enterprise's admin handle (its value index)."""

    __tablename__ = "credentials"
    __table_args__ = (_one_of("kind", CREDENTIAL_KINDS),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enterprise: Mapped[str | None] = mapped_column(ForeignKey("enterprises.code"), index=True)
    admin_handle: Mapped[str] = mapped_column(String(1024), index=True)
    admin_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Append-only, hash-chained log of every registry write."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str | None] = mapped_column(String(1024), index=True)
    before: Mapped[str | None] = mapped_column(String(64))
    after: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class HandleLink(Base):
    """A directed relation between handles (component, batch...) for where-used."""

    __tablename__ = "handle_links"

    from_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    to_key: Mapped[str] = mapped_column(String(1024), primary_key=True, index=True)
    relation: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_handle: Mapped[str] = mapped_column(String(1024))
    to_handle: Mapped[str] = mapped_column(String(1024))
    #: the tier of the link value (registry/tiers.py): who may see that from_handle uses to_handle
    tier: Mapped[str] = mapped_column(String(16), default="public", server_default="public")


class ImportJob(Base):
    """Checkpoint of a resumable bulk import."""

    __tablename__ = "import_jobs"

    job_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_digest: Mapped[str] = mapped_column(String(128))
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DataTemplate(Base):
    """A versioned industry data template (JSON Schema text)."""

    __tablename__ = "data_templates"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatsCounter(Base):
    """A usage counter per period start, prefix ("" for the whole node) and metric."""

    __tablename__ = "stats_counters"

    period: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(255), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class IdentifierKey(Base):
    """Another scheme's identifier (GS1, OID, Ecode) of a handle, by canonical key
    (registry/schemes)."""

    __tablename__ = "identifier_keys"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16))
    name_key: Mapped[str] = mapped_column(
        ForeignKey("handles.name_key", ondelete="CASCADE"), index=True
    )
    handle: Mapped[str] = mapped_column(String(1024))
    #: whether a value naming the key is public (registry/tiers.py); only public ones resolve
    public: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Change(Base):
    """One changed handle or prefix, for serving processes to drop from their caches.

    Written in the transaction of the change (:mod:`registry.changes`); ``seq``
    never repeats (the prune keeps the newest row: SQLite's next rowid never goes back),
    so a reader can follow ``seq > last``.  No index on ``time``: the prune goes by ``seq``.
    """

    __tablename__ = "changes"
    __table_args__ = (_one_of("kind", CHANGE_KINDS),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(16))
    time: Mapped[datetime] = mapped_column(UTCDateTime)


ROLES = ("operator", "reviewer", "enterprise_admin", "enterprise_user")
APPLICATION_STATES = ("pending", "approved", "rejected")
CERT_REQUEST_STATES = APPLICATION_STATES


class ConsoleUser(Base):
    """A person who logs in to the web console (password hashed with argon2)."""

    __tablename__ = "console_users"
    __table_args__ = (_one_of("role", ROLES),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    enterprise: Mapped[str | None] = mapped_column(ForeignKey("enterprises.code"), index=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A console login session; key = SHA-256 of its token."""

    __tablename__ = "console_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("console_users.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    expires: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class EnterpriseApplication(Base):
    """An enterprise's application for a prefix, reviewed by a reviewer (real-name review)."""

    __tablename__ = "enterprise_applications"
    __table_args__ = (_one_of("state", APPLICATION_STATES),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    name: Mapped[str] = mapped_column(String(255))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    address: Mapped[str] = mapped_column(String(255))
    legal_representative: Mapped[str] = mapped_column(String(64))
    contact_name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(32))
    contact_email: Mapped[str] = mapped_column(String(255))
    industry: Mapped[str] = mapped_column(String(16))
    requested_prefix: Mapped[str | None] = mapped_column(String(255))
    admin_username: Mapped[str] = mapped_column(String(64))
    admin_password_hash: Mapped[str] = mapped_column(String(255))
    enterprise: Mapped[str | None] = mapped_column(String(64))
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopHandle(Base):
    """Resolutions of a prefix's most asked handles per day (bounded: see resolver/core/usage)."""

    __tablename__ = "top_handles"

    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(255), primary_key=True)
    handle: Mapped[str] = mapped_column(String(1024), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class PartnerGrant(Base):
    """``owner`` lets ``partner`` read its partners-only values (see :mod:`registry.partners`)."""

    __tablename__ = "partner_grants"

    owner: Mapped[str] = mapped_column(ForeignKey("enterprises.code"), primary_key=True)
    partner: Mapped[str] = mapped_column(ForeignKey("enterprises.code"), primary_key=True,
                                         index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthRecord(Base):
    """An open authentication challenge or session (see :mod:`registry.auth_state`);
    key = SHA-256 of its id, ``data`` what the resolver keeps of it."""

    __tablename__ = "auth_state"
    __table_args__ = (Index("ix_auth_state_pool_expires", "pool", "expires"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool: Mapped[str] = mapped_column(String(32))
    expires: Mapped[float] = mapped_column(Float)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Backlink(Base):
    """A signed where-used link registered here by another node: ``product`` there contains
    ``part`` homed here (:mod:`registry.backlinks`); ``active`` false once withdrawn."""

    __tablename__ = "backlinks"

    part_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    product_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    relation: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_handle: Mapped[str] = mapped_column(String(1024))
    product_handle: Mapped[str] = mapped_column(String(1024))
    product_prefix: Mapped[str] = mapped_column(String(255), index=True)
    origin: Mapped[str] = mapped_column(String(255))
    server: Mapped[str] = mapped_column(String(255))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    jws: Mapped[str] = mapped_column(Text)


class BacklinkOutbox(Base):
    """A back-link this node still has to register (``op`` add) or withdraw (remove) at the
    home node of ``part``; the row goes once the home node took it."""

    __tablename__ = "backlink_outbox"

    product_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    part_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    relation: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_handle: Mapped[str] = mapped_column(String(1024))
    part_handle: Mapped[str] = mapped_column(String(1024))
    op: Mapped[str] = mapped_column(String(8))
    queued: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_try: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(255), default="")


class CertRequest(Base):
    """A certificate request (a JWS signed by the key to certify) queued for review
    (:mod:`registry.cert_requests`); decided once, approved or rejected."""

    __tablename__ = "cert_requests"
    __table_args__ = (_one_of("state", CERT_REQUEST_STATES),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(1024))
    enterprise: Mapped[str | None] = mapped_column(String(64), index=True)
    key_thumbprint: Mapped[str] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(255))
    submitted: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(1024), default="")
    decided: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cert_index: Mapped[int | None] = mapped_column(Integer)
    cert_expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
