"""Bulk writes for the importer: one transaction per batch, resumable by job checkpoint.

On PostgreSQL the head and value rows of a batch are written with ``COPY``
(:mod:`registry.pgcopy`) after the same checks as on SQLite; on SQLite as
multi-row ``INSERT`` statements, with tuples built once per value
(:func:`registry.valuerows.add_batch_rows`, no parameter mapping per row; the
records' images are made in the same pass over the values) and the new heads'
ids given by the batch (it holds the write lock), not read back.  Those inserts
are queued on the SQLite thread a part at a time without waiting
(:func:`registry.sqlite_driver.insert_records_soon`): the rows of a part are made
while SQLite inserts the part before, the links while it inserts the last one
(it lets go of the GIL while it steps).  Its later statements run after them (one thread
takes them in order), the batch waits for them before its commit, and a failed
one fails the batch (rolled back: nothing of it stays).

A batch either commits completely (handles, values, one ``bulk_put`` audit row
whose ``after`` digests every stored record, and the job's ``rows_done``) or
not at all, so an importer that crashes resumes at the last
committed checkpoint; a batch whose ``job_position`` is not beyond the
checkpoint was applied before and is skipped, never stored twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.constants import RC_INVALID_VALUE
from protocol.record_image import make_image
from protocol.values import HandleValue
from registry import changes, identifiers, links, pgcopy, sqlite_driver
from registry.admission import Ownership, load_owners
from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import EnterpriseSuspended, HandleAlreadyExists, InvalidValue, StoreError
from registry.models import Enterprise, Handle, HandleValueRow, ImportJob, table_of, utcnow
from registry.names import name_key, split_handle
from registry.pg_growth import ANALYZE, GrowthWatch
from registry.records import BulkResult, ImportJobState, Rejection
from registry.templates.mapping import LINK_RELATIONS
from registry.trust.verify import Fetch
from registry.valuerows import (
    BOOL_TRUTH,
    SQLITE_BLOB,
    SQLITE_TRUTH,
    VALUE_ROW_COLUMNS,
    add_batch_rows,
    check_values,
)
from registry.write_rules import WriteRules

_H = table_of(Handle)
_V = table_of(HandleValueRow)
_E = table_of(Enterprise)
_J = table_of(ImportJob)
_CHUNK = 5000
#: on SQLite the head and value rows of a batch are made and queued this many records
#: at a time (:meth:`BulkMixin._put_rows`)
_PIPELINE = 1000
_CHECKED_TYPES = links.CHECKED_TYPES

_HEAD_COLUMNS = ("id", "name", "name_key", "prefix", "enterprise", "version", "created",
                 "updated", "image")


@dataclass(slots=True)
class _Row:
    """One valid input row of a batch, and which rules can concern it at all (by its
    value types: :func:`record_kinds`)."""

    position: int
    name: str
    key: str
    prefix: str
    values: dict[int, HandleValue]  # in index order
    #: the record holds an event or a template (:func:`links.check_records`)
    checked: bool
    #: the record names other identifiers (:mod:`registry.identifiers`)
    identified: bool
    #: the record holds link values (:func:`links.link_records`)
    linked: bool


#: :func:`record_kinds` by the set of value types (bounded: cleared when full)
_KINDS: dict[frozenset[str], tuple[bool, bool, bool]] = {}


def record_kinds(types: frozenset[str]) -> tuple[bool, bool, bool]:
    """``(checked, identified, linked)`` of a record whose values have ``types``: whether
    templates and events (:func:`links.check_records`), identifiers
    (:mod:`registry.identifiers`) and links (:func:`links.link_records`) can concern it
    at all.  Worked out once for each set of types (the records of an import repeat a
    few, a node's creates one or two), not three set intersections for every record."""
    kinds = _KINDS.get(types)
    if kinds is None:
        kinds = (not types.isdisjoint(_CHECKED_TYPES),
                 not types.isdisjoint(identifiers.ID_TYPES),
                 not types.isdisjoint(LINK_RELATIONS))
        if len(_KINDS) >= 4096:
            _KINDS.clear()
        _KINDS[types] = kinds
    return kinds


def _index(value: HandleValue) -> int:
    return value.index


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


_EXISTING = select(_H.c.name_key, _H.c.id, _E.c.status).select_from(
    _H.outerjoin(_E, _E.c.code == _H.c.enterprise)
).where(_H.c.name_key.in_(bindparam("keys", expanding=True)))
_HEADS = _EXISTING.with_for_update(of=_H)


async def _rows_with_keys(conn: AsyncConnection, query: Any, keys: list[str]) -> list[Any]:
    """The rows of ``query`` (whose ``keys`` parameter is an expanding IN list) for
    ``keys``, :data:`_CHUNK` at a time.  On SQLite each chunk's statement is compiled
    with its number of placeholders and run on the driver (SQLAlchemy's expansion of
    thousands of parameters per statement was a tenth of a bulk write's time)."""
    found: list[Any] = []
    for chunk in _chunks(keys):
        if conn.dialect.name == "sqlite":
            sql = _sqlite_in(query, conn.dialect, len(chunk))
            found += (await conn.exec_driver_sql(sql, tuple(chunk))).all()
        else:
            found += (await conn.execute(query, {"keys": list(chunk)})).all()
    return found


@lru_cache(maxsize=32)
def _sqlite_in(query: Any, dialect: Any, count: int) -> str:
    """``query`` compiled for SQLite with ``count`` positional placeholders for ``keys``."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": False})
    sql = str(compiled)
    marker = "(__[POSTCOMPILE_keys])"
    assert marker in sql, sql
    return sql.replace(marker, "(" + ", ".join("?" * count) + ")")


class BulkMixin(StoreBase):
    """``bulk_put`` and the import-job checkpoints it keeps."""

    rules: WriteRules  # the store's (registry.store.HandleStore)
    record_values: Fetch
    #: PostgreSQL: when the tables have grown enough to ANALYZE (:mod:`registry.pg_growth`)
    growth: GrowthWatch | None = None

    async def start_import_job(self, job_id: str, source_digest: str) -> ImportJobState:
        """The job ``job_id``, created at row 0 if new; resuming needs the same source."""
        async with self._write() as conn:
            job = await self._job(conn, job_id, source_digest)
        if job.source_digest != source_digest:
            raise StoreError(f"import job {job_id} was started on another source")
        return job

    async def get_import_job(self, job_id: str) -> ImportJobState | None:
        """The checkpoint of ``job_id`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(_J).where(_J.c.job_id == job_id))).first()
        return None if row is None else ImportJobState(*row)

    async def finish_import_job(self, job_id: str, status: str = "done") -> None:
        """Mark a job finished (``done``, ``failed``...)."""
        async with self._write() as conn:
            await conn.execute(
                update(_J).where(_J.c.job_id == job_id).values(status=status, updated=utcnow())
            )

    async def _job(self, conn: AsyncConnection, job_id: str, digest: str) -> ImportJobState:
        query = select(_J).where(_J.c.job_id == job_id).with_for_update()
        row = (await conn.execute(query)).first()
        if row is not None:
            return ImportJobState(*row)
        state = ImportJobState(job_id, digest, 0, "running", utcnow())
        await conn.execute(insert(_J), [
            {"job_id": job_id, "source_digest": digest, "rows_done": 0, "status": "running",
             "updated": state.updated}
        ])
        return state

    async def bulk_put(
        self,
        records: Sequence[tuple[str, Sequence[HandleValue]]],
        *,
        actor: str,
        job_id: str | None = None,
        job_position: int | None = None,
        overwrite: bool = False,
        validated: bool = False,
    ) -> BulkResult:
        """Store a batch of ``(name, values)`` in one transaction.

        Existing handles are rejected unless ``overwrite``; rows without values,
        invalid rows, rows of suspended enterprises, rows beyond a quota and
        (``rules.hosted_only``) rows under prefixes not registered here are rejected
        with the reason, the others stored; a new handle of an enterprise that
        names no HS_ADMIN gets its default one (:mod:`registry.admins`).  With
        ``job_id``/``job_position`` the job's checkpoint moves to
        ``job_position`` in the same transaction.  Records
        breaking a traceability rule are rejected too (:mod:`registry.links`;
        ``validated`` skips that for records known to be good, e.g. the demo
        generator's), and the stored records' where-used links are written.  Each
        record passes the store's write rules (:mod:`registry.write_rules`) or is
        rejected with their reason.
        """
        rejected: list[Rejection] = []
        rows: dict[str, _Row] = {}
        # a transaction, so the write rules' reads see this batch's snapshot
        async with self.transaction(), self._write() as conn:
            if job_id is not None:
                job = await self._job(conn, job_id, "")
                if job_position is not None and job.rows_done >= job_position:
                    return BulkResult(0, 0, (), skipped=True)
            named: list[tuple[int, str, Sequence[HandleValue], str]] = []
            for position, (name, values) in enumerate(records):
                try:
                    split_handle(name)
                except StoreError as exc:
                    rejected.append(Rejection(position, name, str(exc), exc.response_code))
                    continue
                named.append((position, name, values, name_key(name)))
            admins, heads = await self._new_handle_owners(conn, {entry[3] for entry in named})
            for position, name, values, key in named:
                try:
                    if key in rows:
                        raise HandleAlreadyExists(f"{name} appears twice in the batch")
                    if not values:
                        raise InvalidValue(f"{name} has no values (a record needs at least one)")
                    checked = check_values(values)
                    if key in admins:  # a new handle: its enterprise's admin unless it names one
                        checked = admins[key].with_admin(checked)
                    # sorted by index (unique: the values are never compared), in C
                    by_index = dict(sorted(checked.items()))
                    ordered = list(by_index.values())
                    # None: signatures to verify or make; else the same values, in order
                    admitted = self.rules.admit_unsigned(name, ordered)
                    if admitted is None:
                        admitted = sorted(await self.rules.admit(name, ordered,
                                                                 self.record_values), key=_index)
                        by_index = {v.index: v for v in admitted}
                    rows[key] = _Row(position, name, key, key.partition("/")[0], by_index,
                                     *record_kinds(frozenset([v.type for v in admitted])))
                except StoreError as exc:
                    rejected.append(Rejection(position, name, str(exc), exc.response_code))
            if not validated:
                await self._reject_untraceable(conn, rows, rejected)
            await self._reject_taken_identifiers(conn, rows, rejected)
            fresh, replaced = await self._sort_rows(conn, rows, overwrite, rejected, admins,
                                                    heads)
            if not validated:
                replaced = await self._keep_events(conn, replaced, rejected)
            now = utcnow()
            ids = {row.key: hid for row, hid in replaced}
            ids_before = set(ids)
            stamp = int(now.timestamp())
            await self._clear(conn, replaced, now, stamp)
            # on SQLite the head and value rows are queued on its thread and not waited
            # for (:func:`sqlite_driver.insert_records_soon`): the next rows (values, links,
            # identifiers) are made while it inserts these, the statements after run after
            # them, and every one is awaited before the commit
            pending: list[asyncio.Future[None]] = []
            try:
                ids.update(await self._new_ids(conn, fresh))
                stored = sorted([row for row, _owner in fresh]
                                + [row for row, _hid in replaced], key=lambda r: r.position)
                digest = await self._put_rows(conn, stored, {row.key: owner for row, owner
                                                             in fresh}, ids, now, stamp, pending)
                await self._index(conn, stored, replaced, ids_before)
                if stored:
                    detail = {"job": job_id, "position": job_position, "inserted": len(fresh),
                              "replaced": len(replaced), "first": stored[0].name,
                              "last": stored[-1].name}
                    await append_audit(conn, [AuditEvent(actor, "bulk_put", None,
                                                         after=digest, detail=detail)])
                await changes.record(conn, [row.name for row in stored])
                if job_id is not None and job_position is not None:
                    await conn.execute(update(_J).where(_J.c.job_id == job_id).values(
                        rows_done=job_position, updated=now))
            except BaseException:
                # the queued inserts run (or fail) before the rollback; this error stands
                await asyncio.gather(*pending, return_exceptions=True)
                raise
            await sqlite_driver.settle(conn, pending)
            await self._changed([row.name for row in stored])
        if fresh and self.dialect == "postgresql":
            await self._analyze_when_grown(len(fresh))
        rejected.sort(key=lambda r: r.row)
        return BulkResult(len(fresh), len(replaced), tuple(rejected))

    @staticmethod
    async def _index(conn: AsyncConnection, stored: list[_Row],
                     replaced: list[tuple[_Row, int]], ids_before: set[str]) -> None:
        """Write the where-used links and the identifiers index of the ``stored`` rows
        (``replaced`` ones lose their old entries; ``ids_before``: their keys)."""
        # a record without links (or identifiers) now or before adds no rows
        await links.link_records(conn, [(row.name, row.values) for row in stored
                                        if row.linked or row.key in ids_before],
                                 replaced=[row.name for row, _hid in replaced])
        await identifiers.index_records(conn, [(row.name, row.values) for row in stored
                                               if row.identified],
                                        replaced=[row.name for row, _hid in replaced])

    async def _analyze_when_grown(self, added: int) -> None:
        """ANALYZE the handle tables once this store's bulk writes have grown them enough
        (:mod:`registry.pg_growth`): the next batches' key checks are planned anew."""
        if self.growth is None:
            self.growth = GrowthWatch()
        if self.growth.grew(added):
            async with self._write() as conn:
                await conn.execute(ANALYZE)

    @staticmethod
    async def _reject_taken_identifiers(
        conn: AsyncConnection, rows: dict[str, _Row], rejected: list[Rejection]
    ) -> None:
        """Move the rows whose GS1/OID identifiers are malformed or bound elsewhere to
        ``rejected``."""
        bad = await identifiers.check_records(
            conn, [(row.name, row.values) for row in rows.values() if row.identified])
        for row in [row for row in rows.values() if row.name in bad]:
            del rows[row.key]
            rejected.append(Rejection(row.position, row.name, bad[row.name], RC_INVALID_VALUE))

    @staticmethod
    async def _new_handle_owners(
        conn: AsyncConnection, keys: set[str]
    ) -> tuple[dict[str, Ownership], dict[str, tuple[int, str | None]]]:
        """The ownership of the batch's handles (name ``keys``) that do not exist yet, by
        key, their enterprises locked and usage counted for admitting them (read before
        the rows are admitted, so a default admin is signed with the record); and the
        existing ones' ``(id, enterprise status)`` by key (on SQLite what
        :meth:`_sort_rows` goes by: one query less a batch; not locked here, on
        PostgreSQL the enterprises are locked before the handles, as a create does)."""
        existing = {key: (hid, status)
                    for key, hid, status in await _rows_with_keys(conn, _EXISTING, sorted(keys))}
        return await load_owners(conn, keys - existing.keys()), existing

    @staticmethod
    async def _reject_untraceable(
        conn: AsyncConnection, rows: dict[str, _Row], rejected: list[Rejection]
    ) -> None:
        """Move the rows that break a traceability rule from ``rows`` to ``rejected``."""
        bad = await links.check_records(conn, [(key, row.values) for key, row in rows.items()
                                               if row.checked])
        for key, reason in bad.items():
            row = rows.pop(key)
            rejected.append(Rejection(row.position, row.name, reason, RC_INVALID_VALUE))

    @staticmethod
    async def _keep_events(
        conn: AsyncConnection, replaced: list[tuple[_Row, int]], rejected: list[Rejection]
    ) -> list[tuple[_Row, int]]:
        """The overwrites that keep every stored event; the others go to ``rejected``."""
        bad = await links.rewritten_events(conn, [(hid, r.name, r.values) for r, hid in replaced])
        for row, _hid in replaced:
            if row.name in bad:
                rejected.append(Rejection(row.position, row.name, bad[row.name],
                                          RC_INVALID_VALUE))
        return [(row, hid) for row, hid in replaced if row.name not in bad]

    async def _sort_rows(
        self, conn: AsyncConnection, rows: dict[str, _Row], overwrite: bool,
        rejected: list[Rejection], owners: dict[str, Ownership],
        heads: dict[str, tuple[int, str | None]],
    ) -> tuple[list[tuple[_Row, str | None]], list[tuple[_Row, int]]]:
        """Split rows into new ones with their owner and ``(row, id)`` to overwrite;
        ``owners`` and ``heads`` are what :meth:`_new_handle_owners` loaded.  On SQLite
        the batch has held the write lock since, so ``heads`` are still the existing
        handles; on PostgreSQL they are read again (another transaction may have created
        one meanwhile: rejected here, not a failed batch), and the ownerships loaded again
        for every new row if one was deleted meanwhile."""
        if self.dialect == "sqlite":
            existing = {key: heads[key] for key in rows if key in heads}
        else:
            existing = {key: (hid, status) for key, hid, status
                        in await _rows_with_keys(conn, _HEADS, sorted(rows))}
        new = {r.key for r in rows.values() if r.key not in existing}
        if not new <= owners.keys():
            owners = await load_owners(conn, new)
        current = await load_owners(conn, existing.keys(), lock=False)
        fresh: list[tuple[_Row, str | None]] = []
        replaced: list[tuple[_Row, int]] = []
        for row in sorted(rows.values(), key=lambda r: r.position):
            try:
                if row.key in existing:
                    hid, status = existing[row.key]
                    if not overwrite:
                        raise HandleAlreadyExists(f"{row.name} exists")
                    if status not in (None, "active"):
                        raise EnterpriseSuspended(f"{row.name}: its enterprise is {status}")
                    current[row.key].check_writable()
                    replaced.append((row, hid))
                else:
                    owner = owners[row.key]
                    owner.admit_new(row.name, hosted_only=self.rules.hosted_only)
                    fresh.append((row, owner.code))
            except StoreError as exc:
                rejected.append(Rejection(row.position, row.name, str(exc), exc.response_code))
        return fresh, replaced

    async def _clear(self, conn: AsyncConnection, replaced: list[tuple[_Row, int]],
                     now: datetime, stamp: int) -> None:
        """Drop the values of handles about to be overwritten, bump their versions and
        store their new images (values without a timestamp stamped ``stamp``)."""
        if not replaced:
            return
        for chunk in _chunks([hid for _row, hid in replaced]):
            await conn.execute(delete(_V).where(_V.c.handle_id.in_(chunk)))
        bump = update(_H).where(_H.c.id == bindparam("hid"))
        await conn.execute(
            bump.values(version=_H.c.version + 1, updated=now, image=bindparam("image")),
            [{"hid": hid, "image": make_image(row.values.values(), stamp)}
             for row, hid in replaced])

    async def _new_ids(self, conn: AsyncConnection, fresh: list[tuple[_Row, str | None]]
                       ) -> dict[str, int]:
        """The ids of the new handles by key, given here.

        PostgreSQL hands them out from the table's sequence; on SQLite the batch's
        transaction holds the database's write lock (``BEGIN IMMEDIATE``), so the ids
        after the largest one are free, as SQLite itself would pick them.
        """
        if not fresh:
            return {}
        if self.dialect == "postgresql":
            new_ids = await pgcopy.next_ids(conn, _H, len(fresh))
        else:
            top = (await conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM handles")
                   ).scalar_one()
            new_ids = list(range(top + 1, top + 1 + len(fresh)))
        return {row.key: hid for (row, _owner), hid in zip(fresh, new_ids, strict=True)}

    async def _insert(self, conn: AsyncConnection, table: Any, columns: Sequence[str],
                      records: list[tuple[Any, ...]], pending: list[asyncio.Future[None]]
                      ) -> None:
        """Bulk-insert driver-ready tuples: COPY on PostgreSQL; on SQLite queued on its
        thread (:func:`sqlite_driver.insert_records_soon`), the future to ``pending``."""
        if self.dialect == "postgresql":
            await pgcopy.copy_records(conn, table, columns, records)
        elif records:
            pending.append(await sqlite_driver.insert_records_soon(conn, table, columns,
                                                                   records))

    async def _put_rows(
        self, conn: AsyncConnection, stored: list[_Row], owners: dict[str, str | None],
        ids: dict[str, int], now: datetime, stamp: int, pending: list[asyncio.Future[None]],
    ) -> str:
        """Insert the head rows of the new handles among ``stored`` (their owners by key
        in ``owners``) with their images, and the values of every one of ``stored`` (a
        zero timestamp stored as ``stamp``); the digest of the batch for the audit log.

        On SQLite :data:`_PIPELINE` records at a time, each part's inserts queued before
        the next part's rows are made: SQLite inserts one part while the next is made.
        """
        sqlite = self.dialect == "sqlite"
        created = sqlite_driver.bind_value(conn, _H, "created", now) if sqlite else now
        truth, blob = (SQLITE_TRUTH, SQLITE_BLOB) if sqlite else (BOOL_TRUTH, None)
        step = _PIPELINE if sqlite else max(1, len(stored))
        digest = hashlib.sha256()
        for start in range(0, len(stored), step):
            part = stored[start:start + step]
            # the value rows, and the images (make_image's) in the same pass over the values
            records: list[tuple[Any, ...]] = []
            images: list[bytes | None] = []
            add_batch_rows(records, digest, [(row.name, ids[row.key], row.key,
                                              row.values.values()) for row in part],
                           stamp, truth, blob, images)
            heads = [(ids[row.key], row.name, row.key, row.prefix, owners[row.key], 1,
                      created, created, image)
                     for row, image in zip(part, images, strict=True) if row.key in owners]
            await self._insert(conn, _H, _HEAD_COLUMNS, heads, pending)
            await self._insert(conn, _V, VALUE_ROW_COLUMNS, records, pending)
        return digest.hexdigest()
