"""``HandleStore``: the one async service every front end reads and writes handles through.

Each write is one transaction: it locks the handle row (PostgreSQL
``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``), checks ``expected_version``,
applies the change, checks the traceability rules and updates the where-used
links (:mod:`registry.links`), bumps ``version`` with a compare-and-swap,
appends a hash-chained audit row and notes the handle in the change feed
(:mod:`registry.changes`).  The record a write leaves passes the store's
:class:`registry.write_rules.WriteRules` (value count, signatures) inside that
transaction, so no caller can store a record they refuse.  A reader gets a record in one query.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from protocol.record_image import RecordImage, make_image
from protocol.values import HandleValue, with_timestamp
from registry import changes, identifiers, links, sqlite_driver
from registry.accounts import AccountsMixin
from registry.admission import load_owners, owners_query_sqlite
from registry.applications import ApplicationsMixin
from registry.audit import AuditEvent, AuditMixin, append_audit
from registry.auth_state import AuthStateMixin
from registry.backlinks import BacklinksMixin
from registry.bulk import BulkMixin
from registry.bulk_prepare import record_kinds
from registry.catalog import CatalogMixin
from registry.cert_requests import CertRequestsMixin
from registry.changes import ChangesMixin
from registry.db import open_engine, run_migrations
from registry.directory import DirectoryMixin
from registry.errors import (
    ConcurrentModification,
    EnterpriseSuspended,
    HandleAlreadyExists,
    HandleNotFound,
    ValueAlreadyExists,
    ValuesNotFound,
)
from registry.filters import select_values
from registry.models import Enterprise, Handle, HandleValueRow, table_of, utcnow
from registry.names import name_key, split_handle
from registry.partners import PartnersMixin
from registry.records import HandleRecord
from registry.replicas import ReadReplicas
from registry.search import SearchMixin
from registry.valuerows import VALUE_COLUMNS, check_values, record_digest, row_value, value_row
from registry.write_rules import DEFAULT_RULES, WriteRules

_H = table_of(Handle)
_V = table_of(HandleValueRow)
_E = table_of(Enterprise)
_VALUES = tuple(_V.c[name] for name in VALUE_COLUMNS)
# joined on the key too: PostgreSQL then prunes both tables to the key's partition
_WITH_VALUES = _H.outerjoin(_V, and_(_V.c.handle_id == _H.c.id, _V.c.name_key == _H.c.name_key))

_GET = (
    select(_H.c.name, _H.c.version, *_VALUES)
    .select_from(_WITH_VALUES)
    .where(_H.c.name_key == bindparam("key"))
    .order_by(_V.c.idx)
)
_GET_SQLITE = str(_GET.compile(dialect=sqlite.dialect()))
#: a record's image (:mod:`protocol.record_image`) by its name key
_IMAGE_SQLITE = "SELECT image FROM handles WHERE name_key = ?"
#: :data:`_IMAGE_SQLITE` for the keys of ``$1`` (:mod:`registry.pg_batches`), as
#: :data:`_GET_KEYS_PG` reads records: one pruned index lookup a key
_IMAGE_KEYS_PG = (
    "SELECT k.key, r.image FROM unnest($1::varchar[]) AS k(key) CROSS JOIN LATERAL ("
    "SELECT handles.image FROM handles WHERE handles.name_key = k.key OFFSET 0) AS r"
)
#: :data:`_GET` for the keys of ``$1`` (a ``varchar[]``), each row led by its key
#: (:mod:`registry.pg_batches`); the lateral subquery (kept apart by ``OFFSET 0``) is
#: one pruned index lookup a key, as :data:`_GET` is, not a join of whole tables;
#: references come as JSON text, for :func:`row_value` to skip the usual ``[]``
#: without decoding it (the connection's JSON codec parsed every one)
_GET_KEYS_PG = (
    "SELECT k.key, r.* FROM unnest($1::varchar[]) AS k(key) CROSS JOIN LATERAL ("
    "SELECT handles.name, handles.version, "
    + ", ".join(f'handle_values."{name}"' if name != "references"
                else 'handle_values."references"::text' for name in VALUE_COLUMNS)
    + " FROM handles LEFT OUTER JOIN handle_values ON handle_values.handle_id = handles.id"
    " AND handle_values.name_key = handles.name_key"
    " WHERE handles.name_key = k.key OFFSET 0) AS r ORDER BY k.key, r.idx"
)
_GET_MANY = (
    select(_H.c.name_key, _H.c.name, _H.c.version, *_VALUES)
    .select_from(_WITH_VALUES)
    .where(_H.c.name_key.in_(bindparam("keys", expanding=True)))
    .order_by(_H.c.name_key, _V.c.idx)
)


#: :data:`_GET_MANY` joining only the values of some types (a head without any still counts)
_GET_MANY_TYPED = (
    select(_H.c.name_key, _H.c.name, _H.c.version, *_VALUES)
    .select_from(_H.outerjoin(_V, and_(_V.c.handle_id == _H.c.id, _V.c.name_key == _H.c.name_key,
                                       _V.c.type.in_(bindparam("types", expanding=True)))))
    .where(_H.c.name_key.in_(bindparam("keys", expanding=True)))
    .order_by(_H.c.name_key, _V.c.idx)
)


@functools.lru_cache(maxsize=16)
def _get_many_sqlite(count: int, types: int = 0) -> str:
    """:data:`_GET_MANY` for ``count`` keys as SQLite text (``?`` for each key), or with
    ``types`` :data:`_GET_MANY_TYPED` for that many types (their ``?`` first)."""
    keys = [f"k{i}" for i in range(count)]
    if not types:
        statement = _GET_MANY.params(keys=keys)
    else:
        statement = _GET_MANY_TYPED.params(keys=keys, types=[f"t{i}" for i in range(types)])
    return str(statement.compile(
        dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}))


_LOCK = (
    select(_H.c.id, _H.c.name, _H.c.version, _E.c.status, *_VALUES)
    .select_from(_WITH_VALUES.outerjoin(_E, _E.c.code == _H.c.enterprise))
    .where(_H.c.name_key == bindparam("key"))
    .order_by(_V.c.idx)
    .with_for_update(of=_H)
)
#: SQLite ignores FOR UPDATE (a write holds the database's write lock)
_LOCK_SQLITE = str(_LOCK.compile(dialect=sqlite.dialect()))
_BUMP = (
    update(_H)
    .where(_H.c.id == bindparam("hid"), _H.c.name_key == bindparam("key"),
           _H.c.version == bindparam("old"))
    .values(version=_H.c.version + 1, updated=bindparam("now"), image=bindparam("image"))
)

Values = dict[int, HandleValue]
Change = Callable[[Values | None], Values | None]
Check = Callable[[Sequence[HandleValue]], Awaitable[None]]
Guard = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ReadWith:
    """Records a create reads with its lock, and a check of them before it stores.

    ``names``' records (their values of ``types`` only, as :meth:`HandleStore.get_handles`
    reads them) come with the handle's own lock read (on SQLite in the same trip, on the
    writing connection), under the write lock: a create's authorisation (the prefix
    handle's HS_ADMIN, the caller's key) costs no read of its own, and nothing it read
    can change before the create commits.  ``check(records, exists)`` runs before anything
    is stored (``exists``: the handle is there already); what it raises aborts the write.
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    check: Callable[[list[HandleRecord | None], bool], Awaitable[None]]

    def keys(self) -> list[str]:
        """The lookup keys of :attr:`names`."""
        return [name_key(name) for name in self.names]


def _read_with_sqlite(read_with: ReadWith, keys: list[str]) -> tuple[str, tuple[Any, ...]]:
    """The statement reading ``read_with``'s records (lookup ``keys``) on SQLite."""
    kinds = tuple(dict.fromkeys(read_with.types))
    unique = tuple(dict.fromkeys(keys))
    return _get_many_sqlite(len(unique), len(kinds)), (*kinds, *unique)


def _records_of(keys: Sequence[str], rows: Sequence[Any]) -> list[HandleRecord | None]:
    """The record of each of ``keys`` in ``rows`` of :data:`_GET_MANY` (None: not there)."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    records: list[HandleRecord | None] = []
    for key in keys:
        group = grouped.get(key)
        records.append(None if group is None else _record(
            group[0][1], _values_of(group, 3), group[0][2]))
    return records


@functools.lru_cache(maxsize=64)
def _checked_records(keys: tuple[str, ...], rows: tuple[Any, ...]
                     ) -> tuple[HandleRecord | None, ...]:
    """:func:`_records_of` for what a write reads with its lock (:class:`ReadWith`) on
    SQLite (raw rows: hashable): the same few records (an enterprise's prefix handle, its
    admin's) create after create, made once while their rows stay the same (records and
    values are immutable)."""
    return tuple(_records_of(keys, rows))


@dataclass(slots=True)
class _Current:
    """The locked head row and values of a handle inside a write."""

    id: int
    name: str
    version: int
    enterprise_status: str | None
    values: Values


def _values_of(rows: Sequence[Any], offset: int) -> Values:
    return {row[offset]: row_value(row, offset) for row in rows if row[offset] is not None}


def _settle(old: Values | None, new: Values, now: int) -> Values:
    """Stamp changed values with ``now``; an unchanged value keeps its old object."""
    settled: Values = {}
    for index, value in new.items():
        previous = old.get(index) if old else None
        if previous is not None and value == with_timestamp(previous, value.timestamp):
            settled[index] = previous
        else:
            settled[index] = with_timestamp(value, now)
    return settled


def _require_indexes(name: str, old: Values, indexes: Iterable[int]) -> None:
    """Raise :class:`ValuesNotFound` unless ``old`` has every one of ``indexes``."""
    missing = sorted(set(indexes) - old.keys())
    if missing:
        raise ValuesNotFound(f"{name} has no index {missing[0]}")


def _in_prefix(prefix: str | None) -> list[ColumnElement[bool]]:
    return [] if prefix is None else [_H.c.prefix == name_key(prefix)]


def _record(name: str, values: Values, version: int) -> HandleRecord:
    return HandleRecord(name, tuple(values[i] for i in sorted(values)), version)


class HandleStore(
    AuditMixin, BulkMixin, DirectoryMixin, CatalogMixin, ChangesMixin, links.LinksMixin,
    BacklinksMixin, AccountsMixin, ApplicationsMixin, SearchMixin, PartnersMixin,
    AuthStateMixin, CertRequestsMixin,
):
    """Handles, their values and everything around them, on SQLite or PostgreSQL."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        migrate: bool = True,
        rules: WriteRules = DEFAULT_RULES,
        read_urls: Sequence[str] = (),
        read_max_lag: float = 5.0,
        read_check_seconds: float = 1.0,
        pg_partitions: int | None = None,
    ) -> HandleStore:
        """Connect to ``url`` (see :mod:`registry.db`), upgrading the schema first if asked
        (``pg_partitions``: see :mod:`registry.partitions`); every write is held to
        ``rules`` (a node's: :meth:`WriteRules.from_config`).
        ``read_urls`` are streaming replicas for resolution reads
        (:mod:`registry.replicas`), checked once before this returns."""
        engine = await open_engine(url, schema=schema)
        try:
            if migrate:
                await run_migrations(engine, pg_partitions=pg_partitions)
            store = cls(engine, rules)
            if read_urls:
                store.replicas = ReadReplicas(
                    engine, read_urls, schema=schema, max_lag=read_max_lag,
                    check_seconds=read_check_seconds,
                )
                await store.replicas.check()
        except BaseException:
            await engine.dispose()
            raise
        return store

    def __init__(self, engine: AsyncEngine, rules: WriteRules = DEFAULT_RULES) -> None:
        super().__init__(engine)
        self.rules = rules
        self.replicas: ReadReplicas | None = None

    async def close(self) -> None:
        """Close every pooled connection, the replicas' too."""
        if self.replicas is not None:
            await self.replicas.close()
        await super().close()

    # --- reading ---------------------------------------------------------------

    async def get_handle(
        self, name: str, *, types: Iterable[str] = (), indexes: Iterable[int] = (),
        replica: bool = False,
    ) -> HandleRecord | None:
        """The record of ``name`` (case-insensitive) filtered as a Handle server does;
        ``replica`` lets a read replica answer (see :mod:`registry.replicas`)."""
        key = name_key(name)
        rows: Sequence[Any] | None = None
        at = 0  # where a row's columns of _GET start (a row of _GET_KEYS_PG leads with its key)
        if replica and self.replicas is not None and self._open_tx.get() is None:
            rows = await self._get_from_replica(key)
        if rows is None and self._open_tx.get() is None:
            if self.dialect == "sqlite":
                rows = await self._point_read_sqlite(_GET_SQLITE, (key,))
            else:
                rows, at = await self._key_read_pg(_GET_KEYS_PG, key), 1
        if rows is None:
            async with self._read() as conn:
                if self.dialect == "sqlite":
                    rows = await self._fetch_sqlite(conn, _GET_SQLITE, (key,))
                else:
                    rows = (await conn.execute(_GET, {"key": key})).all()
        if not rows:
            return None
        first = rows[0]
        values = tuple(row_value(row, at + 2) for row in rows if row[at + 2] is not None)
        return HandleRecord(first[at], select_values(values, types, indexes), first[at + 1])

    def get_handle_now(self, name: str) -> tuple[bool, HandleRecord | None]:
        """(True, the record of ``name`` or None) when it can be read without waiting
        (a SQLite point read on this thread, :mod:`registry.sqlite_reads`), else
        (False, None): then :meth:`get_handle` reads it.  Replicas are not asked."""
        rows = self._point_read_now(_GET_SQLITE, (name_key(name),))
        if rows is None:
            return False, None
        if not rows:
            return True, None
        values = tuple(row_value(row, 2) for row in rows if row[2] is not None)
        return True, HandleRecord(rows[0][0], values, rows[0][1])

    async def get_values(
        self, name: str, image_type: type[RecordImage] = RecordImage, *,
        replica: bool = False,
    ) -> Sequence[HandleValue] | None:
        """The values of ``name`` as :meth:`get_handle` reads them (None: no such
        handle); a record with an image (:mod:`protocol.record_image`) comes as that
        image, an ``image_type``, whose values are decoded only when asked for: one
        blob read instead of the rows.  Replicas and open transactions read the rows."""
        if self._open_tx.get() is None and not (replica and self.replicas is not None):
            key = name_key(name)
            if self.dialect == "sqlite":
                rows, at = await self._point_read_sqlite(_IMAGE_SQLITE, (key,)), 0
            else:
                rows, at = await self._key_read_pg(_IMAGE_KEYS_PG, key), 1
            if not rows:
                return None
            image = image_type.read(rows[0][at])
            if image is not None:
                return image
        record = await self.get_handle(name, replica=replica)
        return None if record is None else record.values

    def get_values_now(
        self, name: str, image_type: type[RecordImage] = RecordImage,
    ) -> tuple[bool, Sequence[HandleValue] | None]:
        """(True, the values of ``name`` or None) when they can be read without waiting,
        as :meth:`get_handle_now` reads them, else (False, None).  A record with an image
        (:mod:`protocol.record_image`) comes as that image, an ``image_type``, whose
        values are decoded only when asked for: one blob read instead of the rows."""
        key = name_key(name)
        rows = self._point_read_now(_IMAGE_SQLITE, (key,))
        if rows is None:
            return False, None
        if not rows:
            return True, None
        image = image_type.read(rows[0][0])
        if image is not None:
            return True, image
        read, record = self.get_handle_now(name)  # no image: the rows
        return read, None if record is None else record.values

    async def get_handles(
        self, names: Sequence[str], *, types: Sequence[str] = (),
    ) -> list[HandleRecord | None]:
        """The records of ``names`` (each as :meth:`get_handle` reads it, unfiltered), in
        one query: None for a name that does not exist.  With ``types`` a record holds
        only its values of those types (read and decoded: no others), and a record
        without any is there all the same, with no values."""
        keys = [name_key(name) for name in names]
        kinds = tuple(dict.fromkeys(types))
        rows: Sequence[Any]
        if self.dialect == "sqlite":
            sql = _get_many_sqlite(len(set(keys)), len(kinds))
            params = (*kinds, *dict.fromkeys(keys))
            if self._open_tx.get() is None:
                # indexed point reads as a resolution's (on this thread when they need not wait)
                rows = await self._point_read_sqlite(sql, params)
            else:
                async with self._read() as conn:
                    rows = await self._fetch_sqlite(conn, sql, params)
        else:
            async with self._read() as conn:
                if kinds:
                    rows = (await conn.execute(_GET_MANY_TYPED,
                                               {"keys": keys, "types": list(kinds)})).all()
                else:
                    rows = (await conn.execute(_GET_MANY, {"keys": keys})).all()
        return _records_of(keys, rows)

    async def _get_from_replica(self, key: str) -> Sequence[Any] | None:
        """The rows of lookup ``key`` from a healthy replica, None to ask the primary."""
        assert self.replicas is not None
        chosen = self.replicas.pick(key)
        if chosen is None:
            return None
        try:
            async with chosen.engine.connect() as conn:
                rows = (await conn.execute(_GET, {"key": key})).all()
        except Exception as exc:  # any failure of the replica: the primary answers
            self.replicas.failed(chosen, exc)
            return None
        self.query_count += 1
        chosen.reads += 1
        return rows

    async def record_values(self, name: str) -> list[HandleValue] | None:
        """Every value of ``name`` in index order, or None when it does not exist."""
        record = await self.get_handle(name)
        return None if record is None else list(record.values)

    async def handle_by_identifier(self, key: str) -> str | None:
        """The handle another scheme's canonical key (``gs1:01/…``, ``oid:…``) is bound to by a
        public value (a restricted identifier is found by nobody: registry/identifiers.py)."""
        async with self._read() as conn:
            return await identifiers.public_handle_of(conn, key)

    async def list_handles(
        self, prefix: str | None = None, *, page: int = 0, page_size: int = 100,
        after: str | None = None,
    ) -> list[str]:
        """Handle names under ``prefix`` (all when None), ordered by key, one page:
        page number ``page``, or with ``after`` (keyset: no rows skipped over) the
        ``page_size`` names that follow the handle ``after``."""
        query = (
            select(_H.c.name)
            .where(*_in_prefix(prefix))
            .order_by(_H.c.name_key)
            .limit(page_size)
        )
        if after is not None:
            query = query.where(_H.c.name_key > name_key(after))
        else:
            query = query.offset(page * page_size)
        async with self._read() as conn:
            return list((await conn.execute(query)).scalars())

    async def count_handles(self, prefix: str | None = None) -> int:
        """How many handles ``prefix`` (all when None) holds."""
        query = select(func.count()).select_from(_H).where(*_in_prefix(prefix))
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def iter_handles(
        self, prefix: str | None = None, batch: int = 1000
    ) -> AsyncIterator[HandleRecord]:
        """Every record (under ``prefix``) in key order, ``batch`` handles per query."""
        last = ""
        while True:
            heads = (
                select(_H.c.id, _H.c.name, _H.c.name_key, _H.c.version)
                .where(_H.c.name_key > last, *_in_prefix(prefix))
                .order_by(_H.c.name_key)
                .limit(batch)
                .subquery()
            )
            query = (
                select(heads.c.name, heads.c.version, heads.c.name_key, *_VALUES)
                .select_from(heads.outerjoin(_V, and_(_V.c.handle_id == heads.c.id,
                                                     _V.c.name_key == heads.c.name_key)))
                .order_by(heads.c.name_key, _V.c.idx)
            )
            async with self._read() as conn:
                rows = (await conn.execute(query)).all()
            if not rows:
                return
            group: list[Any] = []
            for row in rows:
                if group and group[0][2] != row[2]:
                    yield _record(group[0][0], _values_of(group, 3), group[0][1])
                    group = []
                group.append(row)
            yield _record(group[0][0], _values_of(group, 3), group[0][1])
            last = rows[-1][2]

    # --- writing ---------------------------------------------------------------

    async def create_handle(
        self, name: str, values: Iterable[HandleValue], *, actor: str, guard: Guard | None = None,
        read_with: ReadWith | None = None,
    ) -> HandleRecord:
        """Create ``name``; :class:`HandleAlreadyExists` if any spelling of it exists.
        ``guard`` is awaited first inside the write's transaction (a Handle session's
        request counter, :meth:`resolver.core.auth_sessions.Sessions.guard`): what it
        changes commits with the create; what it raises aborts it.  ``read_with``: other
        records read with the lock and checked before the create (:class:`ReadWith`);
        its check sees an existing handle first (then :class:`HandleAlreadyExists` only
        when it raised nothing)."""
        given = check_values(values)
        record = await self._apply(
            name, actor, "create", None, lambda _old: given, create=True, update=False,
            guard=guard, read_with=read_with,
        )
        assert record is not None
        return record

    async def replace_handle(
        self,
        name: str,
        values: Iterable[HandleValue],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> HandleRecord:
        """Set all values of ``name``, creating it if missing (unless a version is expected)."""
        given = check_values(values)
        record = await self._apply(
            name, actor, "replace", expected_version, lambda _old: given,
            create=expected_version is None,
        )
        assert record is not None
        return record

    async def add_values(
        self,
        name: str,
        values: Iterable[HandleValue],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> HandleRecord:
        """Add values at new indexes; :class:`ValueAlreadyExists` if an index is taken."""
        given = check_values(values)

        def change(old: Values | None) -> Values:
            assert old is not None
            taken = sorted(given.keys() & old.keys())
            if taken:
                raise ValueAlreadyExists(f"{name} already has index {taken[0]}")
            return {**old, **given}

        return await self._change(name, actor, "add_values", expected_version, change)

    async def modify_values(
        self,
        name: str,
        values: Iterable[HandleValue],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> HandleRecord:
        """Overwrite values at existing indexes; :class:`ValuesNotFound` if one is missing."""
        given = check_values(values)

        def change(old: Values | None) -> Values:
            assert old is not None
            _require_indexes(name, old, given.keys())
            return {**old, **given}

        return await self._change(name, actor, "modify_values", expected_version, change)

    async def remove_values(
        self,
        name: str,
        indexes: Iterable[int],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> HandleRecord:
        """Remove the values at ``indexes``; :class:`ValuesNotFound` if one is missing."""
        doomed = set(indexes)

        def change(old: Values | None) -> Values:
            assert old is not None
            _require_indexes(name, old, doomed)
            return {i: v for i, v in old.items() if i not in doomed}

        return await self._change(name, actor, "remove_values", expected_version, change)

    async def upsert_values(
        self,
        name: str,
        values: Iterable[HandleValue],
        *,
        actor: str,
        expected_version: int | None = None,
        check: Check | None = None,
    ) -> HandleRecord:
        """Add the values at new indexes and overwrite those at existing ones, in one write.

        ``check`` is awaited with the locked record's values before they change (a
        writer's authorisation, against the record it changes); what it raises
        aborts the write."""
        given = check_values(values)

        def change(old: Values | None) -> Values:
            assert old is not None
            return {**old, **given}

        record = await self._apply(name, actor, "upsert_values", expected_version, change,
                                   check=check)
        assert record is not None
        return record

    async def delete_handle(
        self, name: str, *, actor: str, expected_version: int | None = None
    ) -> None:
        """Delete ``name`` with its values and outgoing links."""
        await self._apply(name, actor, "delete", expected_version, lambda _old: None)

    async def _change(
        self, name: str, actor: str, action: str, expected: int | None, change: Change
    ) -> HandleRecord:
        record = await self._apply(name, actor, action, expected, change)
        assert record is not None
        return record

    async def _apply(
        self,
        name: str,
        actor: str,
        action: str,
        expected_version: int | None,
        change: Change,
        *,
        create: bool = False,
        update: bool = True,
        check: Check | None = None,
        guard: Guard | None = None,
        read_with: ReadWith | None = None,
    ) -> HandleRecord | None:
        """Run one write: lock, check, ``change`` the values, admit the record it leaves
        under :attr:`rules`, store, bump, audit; all in one transaction.

        A missing handle is created when ``create`` (else HandleNotFound); an
        existing one is changed when ``update`` (else HandleAlreadyExists).
        ``read_with``'s records are read with the lock and checked first (:class:`ReadWith`).
        """
        prefix, _suffix = split_handle(name)
        key = name_key(name)
        record: HandleRecord | None
        try:
            # a transaction, so the rules' reads (signers' keys) see this write's snapshot
            async with self.transaction() as conn:
                if guard is not None:
                    await guard()
                rows: Sequence[Any]
                owner_rows: Sequence[Any] | None = None
                sqlite = self.dialect == "sqlite"
                owners_read = (owners_query_sqlite([key]) if sqlite and create and not update
                               else None)
                read_keys = [] if read_with is None else read_with.keys()
                read_rows: Sequence[Any] = ()
                if owners_read is not None:
                    # a create: its prefixes and their owners (and what it checks) read
                    # with the lock's read, here when the write lock is free (else in one trip)
                    reads = [(_LOCK_SQLITE, (key,)), owners_read]
                    if read_with is not None and read_keys:
                        reads.append(_read_with_sqlite(read_with, read_keys))
                    rows, owner_rows, *more = await sqlite_driver.fetch_each(conn, reads,
                                                                             now=True)
                    read_rows = more[0] if more else ()
                    self.query_count += len(reads)
                elif sqlite:  # raw rows, without SQLAlchemy's work
                    rows = await self._fetch_sqlite(conn, _LOCK_SQLITE, (key,))
                else:
                    rows = (await conn.execute(_LOCK, {"key": key})).all()
                if rows and self.dialect == "postgresql":
                    # the values joined above are of the snapshot taken before the lock
                    # was granted: read them again now that no other writer can change them
                    rows = (await conn.execute(_LOCK, {"key": key})).all()
                if read_with is not None:
                    if owners_read is None and read_keys:
                        read_rows = await self._rows_in(conn, read_with, read_keys)
                    checked = (list(_checked_records(tuple(read_keys), tuple(read_rows)))
                               if sqlite else _records_of(read_keys, read_rows))
                    await read_with.check(checked, bool(rows))
                if not rows:
                    if not create:
                        raise HandleNotFound(name)
                    record = await self._create_one(
                        conn, name, key, name_key(prefix), actor, action, change(None) or {},
                        owner_rows,
                    )
                else:
                    if not update:
                        raise HandleAlreadyExists(rows[0][1])
                    current = _Current(rows[0][0], rows[0][1], rows[0][2], rows[0][3],
                                       _values_of(rows, 4))
                    if check is not None:
                        await check([current.values[i] for i in sorted(current.values)])
                    record = await self._update_one(conn, current, actor, action,
                                                    expected_version, change)
                await changes.record(conn, [name])
                await self._changed([name])
        except IntegrityError as exc:  # a concurrent create of the same name won
            if create:
                raise HandleAlreadyExists(name) from exc
            raise
        return record

    async def _rows_in(self, conn: AsyncConnection, read_with: ReadWith,
                       keys: list[str]) -> Sequence[Any]:
        """The rows of ``read_with``'s records read in the open write (one statement)."""
        if self.dialect == "sqlite":
            return await self._fetch_sqlite(conn, *_read_with_sqlite(read_with, keys))
        kinds = list(dict.fromkeys(read_with.types))
        if kinds:
            return (await conn.execute(_GET_MANY_TYPED, {"keys": keys, "types": kinds})).all()
        return (await conn.execute(_GET_MANY, {"keys": keys})).all()

    async def _admit(self, name: str, values: Values) -> Values:
        """``values`` as :attr:`rules` let ``name`` store them (maybe re-signed)."""
        admitted = await self.rules.admit(
            name, [values[i] for i in sorted(values)], self.record_values
        )
        return {v.index: v for v in admitted}

    async def _create_one(
        self, conn: AsyncConnection, name: str, key: str, prefix: str, actor: str, action: str,
        given: Values, owner_rows: Sequence[Any] | None = None,
    ) -> HandleRecord:
        owner = (await load_owners(conn, [key], sqlite_rows=owner_rows))[key]
        owner.admit_new(name, hosted_only=self.rules.hosted_only)
        given = await self._admit(name, owner.with_admin(given))
        now = utcnow()
        head = {"name": name, "name_key": key, "prefix": prefix, "version": 1, "created": now,
                "updated": now, "enterprise": owner.code}
        values = _settle(None, given, int(now.timestamp()))
        head["image"] = make_image(values[i] for i in sorted(values))
        if self.dialect == "sqlite":  # the head and its values with the next trip
            await sqlite_driver.insert_parent_and_children(
                conn, _H, head, _V, [value_row(0, key, v) for v in values.values()], "handle_id")
        else:
            handle_id = (await conn.execute(insert(_H).returning(_H.c.id), head)).scalar_one()
            if values:
                await conn.execute(insert(_V),
                                   [value_row(handle_id, key, v) for v in values.values()])
        # the rules read other rows only; the identifier index refers to the head.  A new
        # record whose value types no template, event, identifier or link concerns (a
        # plain one: a URL and an HS_ADMIN) has nothing to check or index
        checked, identified, linked = record_kinds(frozenset([v.type for v in values.values()]))
        if checked or linked:
            await links.on_write(conn, name, None, values)
        if identified:
            await identifiers.on_write(conn, name, None, values)
        event = AuditEvent(actor, action, name, after=record_digest(values.values()),
                           detail={"version": 1})
        await append_audit(conn, [event])
        return _record(name, values, 1)

    async def _update_one(
        self,
        conn: AsyncConnection,
        current: _Current,
        actor: str,
        action: str,
        expected_version: int | None,
        change: Change,
    ) -> HandleRecord | None:
        if current.enterprise_status not in (None, "active"):
            raise EnterpriseSuspended(f"{current.name}: its enterprise is suspended")
        # the owner today (longest registered prefix), whoever was stamped at creation
        key = name_key(current.name)
        (await load_owners(conn, [key], lock=False))[key].check_writable()
        if expected_version is not None and expected_version != current.version:
            raise ConcurrentModification(
                f"{current.name} is at version {current.version}, not {expected_version}"
            )
        old = current.values
        given = change(old)
        if given is not None:
            given = await self._admit(current.name, given)
        now = utcnow()
        before = record_digest(old.values())
        if given is None:
            await links.on_delete(conn, current.name, old)
            result = await conn.execute(
                delete(_H).where(_H.c.id == current.id, _H.c.name_key == key,
                                 _H.c.version == current.version)
            )
            after_digest, record = None, None
        else:
            new = _settle(old, given, int(now.timestamp()))
            await links.on_write(conn, current.name, old, new)
            await identifiers.on_write(conn, current.name, old, new)
            dropped = [i for i, v in old.items() if new.get(i) is not v]
            added = [value_row(current.id, key, v) for i, v in new.items() if old.get(i) is not v]
            if dropped:
                await conn.execute(
                    delete(_V).where(_V.c.handle_id == current.id, _V.c.name_key == key,
                                     _V.c.idx.in_(dropped))
                )
            if added:
                await conn.execute(insert(_V), added)
            result = await conn.execute(
                _BUMP, {"hid": current.id, "key": key, "old": current.version, "now": now,
                        "image": make_image(new[i] for i in sorted(new))}
            )
            after_digest = record_digest(new.values())
            record = _record(current.name, new, current.version + 1)
        if result.rowcount != 1:
            raise ConcurrentModification(f"{current.name} changed during the write")
        detail = {"version": None if record is None else record.version}
        await append_audit(conn, [AuditEvent(actor, action, current.name, before, after_digest,
                                             detail)])
        return record
