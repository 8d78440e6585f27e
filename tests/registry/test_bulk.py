"""bulk_put: batches with rejections, overwrite, quota, resume by job checkpoint, and a
batch whose queued insert fails."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from protocol.values import HandleValue
from registry import sqlite_driver
from registry.errors import StoreError
from registry.store import HandleStore
from registry.valuerows import record_digest


def row(n: int, prefix: str = "88.118.8") -> tuple[str, list[HandleValue]]:
    return f"{prefix}/BULK-{n:05d}", [HandleValue(1, "URL", f"https://e.test/{n}".encode()),
                                     HandleValue(2, "EMAIL", b"ops@e.test", timestamp=1234)]


async def test_batch_stores_good_rows_and_reports_bad_ones(database: HandleStore) -> None:
    await database.create_handle("88.118.8/BULK-00001", [HandleValue(1, "URL", b"x")], actor="t")
    batch = [
        row(0),
        row(1),  # exists
        ("no-slash", [HandleValue(1, "URL", b"x")]),
        ("88.118.8/dup-index", [HandleValue(1, "URL", b"x"), HandleValue(1, "URL", b"y")]),
        row(2),
        ("88.118.8/bulk-00002", [HandleValue(1, "URL", b"again")]),  # same key twice
    ]
    result = await database.bulk_put(batch, actor="importer")
    assert (result.inserted, result.replaced, result.skipped) == (2, 0, False)
    assert [(r.row, r.response_code) for r in result.rejected] == [
        (1, 101), (2, 102), (3, 201), (5, 101)]
    assert all(r.reason for r in result.rejected)
    stored = await database.get_handle("88.118.8/BULK-00000")
    assert stored is not None and stored.version == 1
    assert stored.values[1].timestamp == 1234 and stored.values[0].timestamp > 0
    assert (await database.get_handle("88.118.8/BULK-00001")).values[0].data == b"x"  # type: ignore[union-attr]
    assert (await database.verify_audit()).ok


async def test_overwrite_replaces_values_and_bumps_versions(database: HandleStore) -> None:
    await database.bulk_put([row(n) for n in range(3)], actor="importer")
    newer = [(name, [HandleValue(9, "URL", b"new")]) for name, _ in (row(n) for n in range(4))]
    result = await database.bulk_put(newer, actor="importer", overwrite=True)
    assert (result.inserted, result.replaced, result.rejected) == (1, 3, ())
    record = await database.get_handle("88.118.8/BULK-00002")
    assert record is not None and record.version == 2
    assert [(v.index, v.data) for v in record.values] == [(9, b"new")]


async def test_quota_and_suspension_reject_rows(database: HandleStore) -> None:
    await database.add_enterprise("ACME", "Acme", quota=2)
    await database.create_prefix("88.118.8", owner="ACME")
    await database.add_enterprise("IDLE", "Idle")
    await database.create_prefix("88.118.7", owner="IDLE")
    await database.set_enterprise_status("IDLE", "suspended")
    result = await database.bulk_put([row(0), row(1), row(2), row(3, "88.118.7")],
                                     actor="importer")
    assert result.inserted == 2
    assert [(r.row, r.response_code) for r in result.rejected] == [(2, 401), (3, 401)]
    assert await database.count_handles("88.118.8") == 2


async def test_resume_by_job_checkpoint_never_duplicates(database: HandleStore) -> None:
    source = [row(n) for n in range(25)]
    job = await database.start_import_job("job-1", "sha256:abc")
    assert job.rows_done == 0
    for start in range(0, 20, 10):  # the first run dies after two batches
        await database.bulk_put(source[start : start + 10], actor="importer", job_id="job-1",
                                job_position=start + 10)
    resumed = await database.start_import_job("job-1", "sha256:abc")
    assert resumed.rows_done == 20
    again = await database.bulk_put(source[10:20], actor="importer", job_id="job-1",
                                    job_position=20)
    assert again.skipped and again.inserted == 0
    last = await database.bulk_put(source[resumed.rows_done :], actor="importer",
                                   job_id="job-1", job_position=25)
    assert (last.inserted, last.rejected) == (5, ())
    await database.finish_import_job("job-1")
    state = await database.get_import_job("job-1")
    assert state is not None and (state.rows_done, state.status) == (25, "done")
    assert await database.count_handles("88.118.8") == 25
    with pytest.raises(StoreError):
        await database.start_import_job("job-1", "sha256:other")


async def test_a_large_batch(database: HandleStore) -> None:
    result = await database.bulk_put([row(n) for n in range(6000)], actor="importer")
    assert result.inserted == 6000
    assert await database.count_handles("88.118.8") == 6000
    [entry] = await database.audit_entries()
    assert (entry.action, entry.detail["inserted"]) == ("bulk_put", 6000)
    assert (entry.detail["first"], entry.detail["last"]) == ("88.118.8/BULK-00000",
                                                             "88.118.8/BULK-05999")


async def test_values_are_stored_and_digested_in_index_order(database: HandleStore) -> None:
    """Values given out of order (and overwritten ones) are stored in index order, and
    the audit row digests each stored record as :func:`record_digest` does."""
    name = "88.118.8/ORDER"
    values = [HandleValue(7, "EMAIL", b"b"), HandleValue(2, "URL", b"a", timestamp=5),
              HandleValue(4, "DESC", b"c")]
    for overwrite in (False, True):
        await database.bulk_put([(name, values), row(1)], actor="importer", overwrite=overwrite)
        records = [await database.get_handle(n) for n in (name, row(1)[0])]
        assert [v.index for v in records[0].values] == [2, 4, 7]  # type: ignore[union-attr]
        lines = "".join(f"{r.name}\n{record_digest(r.values)}\n"  # type: ignore[union-attr]
                        for r in records)
        entry = (await database.audit_entries())[-1]
        assert entry.after == hashlib.sha256(lines.encode()).hexdigest()


async def test_a_batch_whose_queued_insert_fails_leaves_nothing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the batch's head and value rows are inserted while it makes the next
    rows (queued on the SQLite thread); when the value rows' insert fails (here made to),
    the batch fails with it: no handle, no audit row, the job's checkpoint where it was,
    and the next batch stores as ever."""
    store = await HandleStore.open(sqlite_url)
    try:
        job = await store.start_import_job("job-f", "sha256:f")
        insert = sqlite_driver._insert_many

        def failing(db: sqlite3.Connection, head: str, width: int, records: list[Any]) -> None:
            if head.startswith('INSERT INTO handle_values'):
                raise sqlite3.OperationalError("database or disk is full")
            insert(db, head, width, records)

        monkeypatch.setattr(sqlite_driver, "_insert_many", failing)
        with pytest.raises(OperationalError, match="disk is full"):
            await store.bulk_put([row(n) for n in range(10)], actor="importer",
                                 job_id="job-f", job_position=10)
        assert await store.count_handles("88.118.8") == 0
        assert await store.audit_entries() == []
        state = await store.get_import_job("job-f")
        assert state is not None and state.rows_done == job.rows_done == 0
        monkeypatch.setattr(sqlite_driver, "_insert_many", insert)
        done = await store.bulk_put([row(n) for n in range(10)], actor="importer",
                                    job_id="job-f", job_position=10)
        assert done.inserted == 10 and await store.count_handles("88.118.8") == 10
        record = await store.get_handle("88.118.8/BULK-00003")
        assert record is not None
        assert [v.data for v in record.values] == [b"https://e.test/3", b"ops@e.test"]
        assert (await store.verify_audit()).ok
    finally:
        await store.close()
