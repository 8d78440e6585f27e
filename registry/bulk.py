"""Bulk writes for the importer: one transaction per batch, resumable by job checkpoint.

A batch is made ready before its transaction (:meth:`BulkMixin.prepare_bulk`,
:mod:`registry.bulk_prepare`: records admitted, templates and events checked,
value rows, images and digests laid out, on a snapshot of which handles exist
and who owns the others) and stored in it, where what the snapshot decided is
checked again and any record it no longer holds for is admitted anew.
On PostgreSQL the head and value rows of a batch are written with ``COPY``
(:mod:`registry.pgcopy`) after the same checks as on SQLite; on SQLite as
multi-row ``INSERT`` statements, with tuples built once per value
(:func:`registry.valuerows.record_rows`, no parameter mapping per row) and the
new heads' ids given by the batch (it holds the write lock), not read back.
Those inserts are queued on the SQLite thread a part at a time without waiting
(:func:`registry.sqlite_driver.insert_records_soon`): the rows of a part are
given their ids while SQLite inserts the part before, the links while it inserts
the last one (it lets go of the GIL while it steps).  Its later statements run
after them (one thread takes them in order), the batch waits for them before its
commit, and a failed one fails the batch (rolled back: nothing of it stays).

A batch either commits completely (handles, values, one ``bulk_put`` audit row
whose ``after`` digests every stored record, and the job's ``rows_done``) or
not at all, so an importer that crashes resumes at the last
committed checkpoint; a batch whose ``job_position`` is not beyond the
checkpoint was applied before and is skipped, never stored twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.constants import RC_INVALID_VALUE
from protocol.values import HandleValue
from registry import changes, identifiers, links, pgcopy, sqlite_driver
from registry.admission import Ownership, load_owners
from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.bulk_prepare import (
    PreparedBatch,
    Row,
    admin_prefix,
    admit_row,
    lay_out,
    prepare_rows,
)
from registry.errors import EnterpriseSuspended, HandleAlreadyExists, StoreError
from registry.models import Enterprise, Handle, HandleValueRow, ImportJob, table_of, utcnow
from registry.names import name_key, split_handle
from registry.pg_growth import ANALYZE, GrowthWatch
from registry.records import BulkResult, ImportJobState, Rejection
from registry.trust.verify import Fetch
from registry.valuerows import BOOL_TRUTH, SQLITE_BLOB, SQLITE_TRUTH, VALUE_ROW_COLUMNS
from registry.write_rules import WriteRules

_H = table_of(Handle)
_V = table_of(HandleValueRow)
_E = table_of(Enterprise)
_J = table_of(ImportJob)
_CHUNK = 5000
#: on SQLite the head and value rows of a batch are made and queued this many records
#: at a time (:meth:`BulkMixin._put_rows`)
_PIPELINE = 1000

_HEAD_COLUMNS = ("id", "name", "name_key", "prefix", "enterprise", "version", "created",
                 "updated", "image")


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

    async def start_import_job(self, job_id: str, source_digest: str, *,
                               rows_done: int = 0) -> ImportJobState:
        """The job ``job_id``, created at row ``rows_done`` if new; resuming needs the
        same source."""
        async with self._write() as conn:
            job = await self._job(conn, job_id, source_digest, rows_done)
        if job.source_digest != source_digest:
            raise StoreError(f"import job {job_id} was started on another source")
        return job

    async def get_import_job(self, job_id: str) -> ImportJobState | None:
        """The checkpoint of ``job_id`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(_J).where(_J.c.job_id == job_id))).first()
        return None if row is None else ImportJobState(*row)

    async def import_jobs_under(self, job_id: str) -> list[ImportJobState]:
        """The jobs named ``job_id/...`` (the shares of a parallel import), by name."""
        query = select(_J).where(_J.c.job_id.startswith(f"{job_id}/", autoescape=True))
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(_J.c.job_id))).all()
        return [ImportJobState(*row) for row in rows]

    async def finish_import_job(self, job_id: str, status: str = "done", *,
                                rows_done: int | None = None) -> None:
        """Mark a job finished (``done``, ``failed``...), its checkpoint at ``rows_done``
        if given."""
        fields: dict[str, Any] = {"status": status, "updated": utcnow()}
        if rows_done is not None:
            fields["rows_done"] = rows_done
        async with self._write() as conn:
            await conn.execute(update(_J).where(_J.c.job_id == job_id).values(**fields))

    async def _job(self, conn: AsyncConnection, job_id: str, digest: str,
                   rows_done: int = 0) -> ImportJobState:
        query = select(_J).where(_J.c.job_id == job_id).with_for_update()
        row = (await conn.execute(query)).first()
        if row is not None:
            return ImportJobState(*row)
        state = ImportJobState(job_id, digest, rows_done, "running", utcnow())
        await conn.execute(insert(_J), [
            {"job_id": job_id, "source_digest": digest, "rows_done": rows_done,
             "status": "running", "updated": state.updated}
        ])
        return state

    async def prepare_bulk(
        self, records: Sequence[tuple[str, Sequence[HandleValue]]], *, validated: bool = False
    ) -> PreparedBatch:
        """``records`` made ready for :meth:`bulk_put` outside its transaction
        (:mod:`registry.bulk_prepare`): admitted and laid out on a snapshot of which of
        them exist and who owns the others, templates and events checked (unless
        ``validated``).  Holds no write lock: an importing process prepares its next batch
        while another stores one."""
        now = utcnow()
        unnamed: list[Rejection] = []
        named: list[tuple[int, str, Sequence[HandleValue], str]] = []
        for position, (name, values) in enumerate(records):
            try:
                split_handle(name)
            except StoreError as exc:
                unnamed.append(Rejection(position, name, str(exc), exc.response_code))
                continue
            named.append((position, name, values, name_key(name)))
        async with self._read() as conn:
            admins, _heads = await self._new_handle_owners(
                conn, {entry[3] for entry in named}, lock=False)
            prepared = await prepare_rows(self.rules, named, admins)
            rows = [p.outcome for p in prepared.values() if isinstance(p.outcome, Row)]
            if not validated:
                await _trace(conn, rows)
        stamp = int(now.timestamp())
        lay_out(rows, stamp, *self._row_style())
        return PreparedBatch(now, stamp, named, unnamed, prepared)

    def _row_style(self) -> tuple[tuple[Any, Any], type[bytearray] | None]:
        """How this dialect's driver takes value rows: permission flags, data."""
        return (SQLITE_TRUTH, SQLITE_BLOB) if self.dialect == "sqlite" else (BOOL_TRUTH, None)

    async def bulk_put(
        self,
        records: Sequence[tuple[str, Sequence[HandleValue]]],
        *,
        actor: str,
        job_id: str | None = None,
        job_position: int | None = None,
        overwrite: bool = False,
        validated: bool = False,
        prepared: PreparedBatch | None = None,
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
        rejected with their reason.  ``prepared``: what :meth:`prepare_bulk` made of
        ``records`` (with the same ``validated``); made here, before the transaction,
        when not given.
        """
        batch = prepared or await self.prepare_bulk(records, validated=validated)
        rejected: list[Rejection] = list(batch.unnamed)
        rows: dict[str, Row] = {}
        # a transaction (its connection), so the write rules' reads see this batch's snapshot
        async with self.transaction() as conn:
            if job_id is not None:
                job = await self._job(conn, job_id, "")
                if job_position is not None and job.rows_done >= job_position:
                    return BulkResult(0, 0, (), skipped=True)
            admins, heads = await self._new_handle_owners(
                conn, {entry[3] for entry in batch.named})
            for position, name, values, key in batch.named:
                duplicate = key in rows
                before = batch.records.get(position)
                try:
                    if (before is not None and before.outcome is not None
                            and before.duplicate == duplicate
                            and before.admission == admin_prefix(key, admins)):
                        outcome = before.outcome  # what it came to holds
                        if isinstance(outcome, Rejection):
                            rejected.append(outcome)
                        else:
                            rows[key] = outcome
                        continue
                    row = await admit_row(self.rules, self.record_values, position, name, key,
                                          values, admins.get(key), duplicate)
                    assert row is not None  # (given record_values, it is admitted or raises)
                    rows[key] = row
                except StoreError as exc:
                    rejected.append(Rejection(position, name, str(exc), exc.response_code))
            if not validated:
                await self._reject_untraceable(conn, rows, rejected)
            await self._reject_taken_identifiers(conn, rows, rejected)
            fresh, replaced = await self._sort_rows(conn, rows, overwrite, rejected, admins,
                                                    heads)
            if not validated:
                replaced = await self._keep_events(conn, replaced, rejected)
            now, stamp = batch.now, batch.stamp
            ids = {row.key: hid for row, hid in replaced}
            ids_before = set(ids)
            stored = sorted([row for row, _owner in fresh]
                            + [row for row, _hid in replaced], key=lambda r: r.position)
            lay_out(stored, stamp, *self._row_style())
            await self._clear(conn, replaced, now)
            # on SQLite the head and value rows are queued on its thread and not waited
            # for (:func:`sqlite_driver.insert_records_soon`): the next rows (values, links,
            # identifiers) are made while it inserts these, the statements after run after
            # them, and every one is awaited before the commit
            pending: list[asyncio.Future[None]] = []
            try:
                ids.update(await self._new_ids(conn, fresh))
                digest = await self._put_rows(conn, stored, {row.key: owner for row, owner
                                                             in fresh}, ids, now, pending)
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
    async def _index(conn: AsyncConnection, stored: list[Row],
                     replaced: list[tuple[Row, int]], ids_before: set[str]) -> None:
        """Write the where-used links and the identifiers index of the ``stored`` rows
        (``replaced`` ones lose their old entries; ``ids_before``: their keys)."""
        # a record without links (or identifiers) now or before adds no rows
        await links.link_records(conn, [(row.name, row.values) for row in stored
                                        if row.linked or row.key in ids_before],
                                 replaced=[row.name for row, _hid in replaced],
                                 laid_out={row.name: row.links for row in stored
                                           if row.links is not None})
        await identifiers.index_records(conn, [(row.name, row.values) for row in stored
                                               if row.identified],
                                        replaced=[row.name for row, _hid in replaced],
                                        parsed_already=_identifiers_of(stored))

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
        conn: AsyncConnection, rows: dict[str, Row], rejected: list[Rejection]
    ) -> None:
        """Move the rows whose GS1/OID identifiers are malformed or bound elsewhere to
        ``rejected``."""
        bad = await identifiers.check_records(
            conn, [(row.name, row.values) for row in rows.values() if row.identified],
            _identifiers_of(rows.values()))
        for row in [row for row in rows.values() if row.name in bad]:
            del rows[row.key]
            rejected.append(Rejection(row.position, row.name, bad[row.name], RC_INVALID_VALUE))

    @staticmethod
    async def _new_handle_owners(
        conn: AsyncConnection, keys: set[str], *, lock: bool = True
    ) -> tuple[dict[str, Ownership], dict[str, tuple[int, str | None]]]:
        """The ownership of the batch's handles (name ``keys``) that do not exist yet, by
        key, with ``lock`` their enterprises locked and usage counted for admitting them
        (read before the rows are admitted, so a default admin is signed with the record);
        and the existing ones' ``(id, enterprise status)`` by key (on SQLite what
        :meth:`_sort_rows` goes by: one query less a batch; not locked here, on
        PostgreSQL the enterprises are locked before the handles, as a create does)."""
        existing = {key: (hid, status)
                    for key, hid, status in await _rows_with_keys(conn, _EXISTING, sorted(keys))}
        return await load_owners(conn, keys - existing.keys(), lock=lock), existing

    @staticmethod
    async def _reject_untraceable(
        conn: AsyncConnection, rows: dict[str, Row], rejected: list[Rejection]
    ) -> None:
        """Move the rows that break a traceability rule from ``rows`` to ``rejected``
        (asked here of the rows their preparation did not ask of)."""
        await _trace(conn, [row for row in rows.values() if not row.traced])
        for row in [row for row in rows.values() if row.problem is not None]:
            del rows[row.key]
            rejected.append(Rejection(row.position, row.name, row.problem or "",
                                      RC_INVALID_VALUE))

    @staticmethod
    async def _keep_events(
        conn: AsyncConnection, replaced: list[tuple[Row, int]], rejected: list[Rejection]
    ) -> list[tuple[Row, int]]:
        """The overwrites that keep every stored event; the others go to ``rejected``."""
        bad = await links.rewritten_events(conn, [(hid, r.name, r.values) for r, hid in replaced])
        for row, _hid in replaced:
            if row.name in bad:
                rejected.append(Rejection(row.position, row.name, bad[row.name],
                                          RC_INVALID_VALUE))
        return [(row, hid) for row, hid in replaced if row.name not in bad]

    async def _sort_rows(
        self, conn: AsyncConnection, rows: dict[str, Row], overwrite: bool,
        rejected: list[Rejection], owners: dict[str, Ownership],
        heads: dict[str, tuple[int, str | None]],
    ) -> tuple[list[tuple[Row, str | None]], list[tuple[Row, int]]]:
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
        fresh: list[tuple[Row, str | None]] = []
        replaced: list[tuple[Row, int]] = []
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

    async def _clear(self, conn: AsyncConnection, replaced: list[tuple[Row, int]],
                     now: datetime) -> None:
        """Drop the values of handles about to be overwritten, bump their versions and
        store their new images (laid out: :func:`bulk_prepare.lay_out`)."""
        if not replaced:
            return
        for chunk in _chunks([hid for _row, hid in replaced]):
            await conn.execute(delete(_V).where(_V.c.handle_id.in_(chunk)))
        bump = update(_H).where(_H.c.id == bindparam("hid"))
        await conn.execute(
            bump.values(version=_H.c.version + 1, updated=now, image=bindparam("image")),
            [{"hid": hid, "image": row.laid_out.image if row.laid_out else None}
             for row, hid in replaced])

    async def _new_ids(self, conn: AsyncConnection, fresh: list[tuple[Row, str | None]]
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
        self, conn: AsyncConnection, stored: list[Row], owners: dict[str, str | None],
        ids: dict[str, int], now: datetime, pending: list[asyncio.Future[None]],
    ) -> str:
        """Insert the head rows of the new handles among ``stored`` (their owners by key
        in ``owners``) with their images, and the values of every one of ``stored``, as
        they were laid out (:func:`bulk_prepare.lay_out`) with their ids now; the digest
        of the batch for the audit log.

        On SQLite :data:`_PIPELINE` records at a time, each part's inserts queued before
        the next part's rows are made: SQLite inserts one part while the next is made.
        """
        sqlite = self.dialect == "sqlite"
        created = sqlite_driver.bind_value(conn, _H, "created", now) if sqlite else now
        step = _PIPELINE if sqlite else max(1, len(stored))
        lines: list[str] = []
        for start in range(0, len(stored), step):
            part = stored[start:start + step]
            records: list[tuple[Any, ...]] = []
            heads: list[tuple[Any, ...]] = []
            for row in part:
                hid, laid_out = ids[row.key], row.laid_out
                assert laid_out is not None
                records += [(hid, *tail) for tail in laid_out.tails]
                lines.append(f"{row.name}\n{laid_out.digest}\n")
                if row.key in owners:
                    heads.append((hid, row.name, row.key, row.prefix, owners[row.key], 1,
                                  created, created, laid_out.image))
            await self._insert(conn, _H, _HEAD_COLUMNS, heads, pending)
            await self._insert(conn, _V, VALUE_ROW_COLUMNS, records, pending)
        return hashlib.sha256("".join(lines).encode()).hexdigest()


def _identifiers_of(rows: Iterable[Row]) -> dict[str, identifiers.Parsed]:
    """The identifiers of those of ``rows`` whose preparation parsed them, by name."""
    return {row.name: row.identifiers for row in rows if row.identifiers is not None}


async def _trace(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Ask :func:`links.check_records` about ``rows`` (those templates or events concern)
    and note on each what it said."""
    bad = await links.check_records(conn, [(row.key, row.values) for row in rows
                                           if row.checked])
    for row in rows:
        row.traced = True
        row.problem = bad.get(row.key)
