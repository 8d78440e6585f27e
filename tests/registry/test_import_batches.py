"""The batch-level import path (issue 17): a bad row inside a big batch, a batch the
database refuses half-way, overwrites dropping links and identifiers, record digests."""

from __future__ import annotations

import csv
import gc
import io
from pathlib import Path

import pytest

from protocol.constants import MAX_ARRAY_SIZE
from protocol.record_image import make_image
from protocol.values import HandleValue, ValueReference
from registry.collector import IMPORT_YOUNG_OBJECTS
from registry.importer import Item, import_file, read_csv, read_jsonl, scan_source
from registry.store import HandleStore
from registry.valuerows import (
    BOOL_TRUTH,
    SQLITE_BLOB,
    SQLITE_TRUTH,
    VALUE_ROW_COLUMNS,
    record_digest,
    record_rows,
    stored_rows,
)


def write_csv(path: Path, records: int, *, bad_index_at: int | None = None) -> None:
    """``records`` records of two rows each; the second row of record ``bad_index_at``
    has an index that is not a number."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data"])
        for n in range(records):
            handle = f"88.118.8/IMP-{n:05d}"
            writer.writerow([handle, 1, "URL", f"https://p.example/{n}"])
            writer.writerow([handle, "x" if n == bad_index_at else 2, "EMAIL", "ops@p.example"])


def report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


async def test_a_bad_row_in_the_middle_of_a_big_batch(database: HandleStore,
                                                      tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    write_csv(source, 3000, bad_index_at=1500)  # its row 3002 (rows count from 1)
    summary = await import_file(database, source, batch_rows=10000)  # one batch
    assert (summary.rows_done, summary.inserted, summary.rejected) == (6000, 2999, 1)
    [line] = report(Path(summary.report))
    assert line == {"row": "3001", "handle": "88.118.8/IMP-01500",
                    "reason": "row 3002: index must be a number, got 'x'"}
    # nothing of the bad record is stored, not even its good first row
    assert await database.get_handle("88.118.8/IMP-01500") is None
    assert await database.count_handles("88.118.8") == 2999
    stored = await database.get_handle("88.118.8/IMP-01501")
    assert stored is not None
    assert [(v.index, v.type, v.data) for v in stored.values] == [
        (1, "URL", b"https://p.example/1501"), (2, "EMAIL", b"ops@p.example")]
    assert all(v.timestamp > 0 for v in stored.values)
    assert (await database.verify_audit()).ok


async def test_an_import_spaces_the_collector_s_young_passes_while_it_runs(
        database: HandleStore, tmp_path: Path) -> None:
    source = tmp_path / "few.csv"
    write_csv(source, 30)
    before = gc.get_threshold()
    during: list[int] = []
    await import_file(database, source, batch_rows=20,
                      on_progress=lambda _done, _total: during.append(gc.get_threshold()[0]))
    assert len(during) > 2 and set(during[1:]) == {IMPORT_YOUNG_OBJECTS}  # [0]: before
    assert gc.get_threshold() == before


async def test_a_batch_the_database_refuses_is_not_half_written(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        # a value row in the middle of the second batch fails inside the executemany
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON handle_values "
                "WHEN NEW.data = CAST('https://p.example/1500' AS BLOB) "
                "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END")
        source = tmp_path / "big.csv"
        write_csv(source, 2000)
        with pytest.raises(Exception, match="refused by trigger"):
            await import_file(store, source, batch_rows=2000)  # batches of 1000 records
        assert await store.count_handles("88.118.8") == 1000  # the first batch only
        assert await store.get_handle("88.118.8/IMP-01499") is None  # same batch, earlier
        job = await store.get_import_job(scan_source(source, "csv").job_id)
        assert job is not None and (job.rows_done, job.status) == (2000, "running")
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER refuse")
        resumed = await import_file(store, source, batch_rows=2000)
        assert (resumed.resumed_from, resumed.inserted, resumed.rejected) == (2000, 1000, 0)
        assert await store.count_handles("88.118.8") == 2000
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


async def test_overwrite_drops_old_links_and_identifiers(database: HandleStore) -> None:
    part = "88.118.8/PART-1"
    await database.bulk_put([(part, [HandleValue(1, "URL", b"https://p.example/part")])],
                            actor="t")
    product = [HandleValue(1, "URL", b"https://p.example/tv"),
               HandleValue(2, "TRACE.COMPONENT", part.encode()),
               HandleValue(3, "ID.GS1", b"(01)06901234567892")]
    first = await database.bulk_put([("88.118.8/TV-1", product)], actor="t")
    assert (first.inserted, first.rejected) == (1, ())
    assert await database.where_used_many([part]) == {"88.118.8/PART-1": [
        ("88.118.8/TV-1", "component")]}
    # the same GTIN on another handle is refused, naming its owner
    taken = await database.bulk_put([("88.118.8/TV-2", [HandleValue(1, "ID.GS1",
                                                                    b"(01)06901234567892")])],
                                    actor="t")
    assert taken.inserted == 0 and "88.118.8/TV-1" in taken.rejected[0].reason
    plain = [HandleValue(1, "URL", b"https://p.example/tv2")]
    again = await database.bulk_put([("88.118.8/TV-1", plain)], actor="t", overwrite=True)
    assert (again.replaced, again.rejected) == (1, ())
    assert await database.where_used_many([part]) == {}
    freed = await database.bulk_put([("88.118.8/TV-2", [HandleValue(1, "ID.GS1",
                                                                    b"(01)06901234567892")])],
                                    actor="t")
    assert (freed.inserted, freed.rejected) == (1, ())


def test_record_digest_is_unchanged_and_stamps_zero_timestamps() -> None:
    values = [HandleValue(2, "EMAIL", b"ops@e.test", timestamp=1234, public_read=False),
              HandleValue(1, "URL", b"https://e.test/1", ttl_type=1, ttl=99),
              HandleValue(7, "HS_VLIST", b"x", references=(ValueReference("88.118.8/A", 1),
                                                           ValueReference("88.118.8/B", 300)))]
    # the digest the audit log has always held for this record (before issue 17's rewrite)
    assert record_digest(values) == (
        "51aa4378c549924af9ea48d187ad5e57098b90f2a99b505f82629546ec772e0b")
    stamped = [HandleValue(v.index, v.type, v.data, v.ttl_type, v.ttl, v.timestamp or 777,
                           v.admin_read, v.admin_write, v.public_read, v.public_write,
                           v.references) for v in values]
    assert record_digest(values, 777) == record_digest(stamped) != record_digest(values)


def test_stored_rows_are_the_rows_and_digest_of_each_value() -> None:
    values = [HandleValue(1, "URL", b"https://e.test/1", ttl_type=1, ttl=99),
              HandleValue(2, "EMAIL", b"ops@e.test", timestamp=1234, public_read=False),
              HandleValue(7, "HS_VLIST", b"x", references=(ValueReference("88.118.8/A", 1),
                                                           ValueReference("88.118.8/B", 300))),
              HandleValue(9, "\u00e9t\u00e9", b"", admin_write=False, public_write=True)]
    rows, digest = stored_rows(5, "88.118.8/K", values, 777)
    assert digest == record_digest(values, 777) == record_digest(reversed(values), 777)
    assert [dict(zip(VALUE_ROW_COLUMNS, row, strict=True)) for row in rows] == [
        {"handle_id": 5, "name_key": "88.118.8/K", "idx": v.index, "type": v.type,
         "data": v.data, "ttl_type": v.ttl_type, "ttl": v.ttl,
         "timestamp": v.timestamp or 777, "admin_read": v.admin_read,
         "admin_write": v.admin_write, "public_read": v.public_read,
         "public_write": v.public_write,
         "references": '[["88.118.8/A", 1], ["88.118.8/B", 300]]' if v.references else "[]"}
        for v in values]
    as_sqlite, same = stored_rows(5, "88.118.8/K", values, 777, SQLITE_TRUTH, SQLITE_BLOB)
    assert same == digest
    assert as_sqlite == rows  # 1 == True, bytearray == bytes: the same flags and data
    assert {type(flag) for row in as_sqlite for flag in row[8:12]} == {int}
    assert {type(row[4]) for row in as_sqlite} == {bytearray}  # bound without an adapter
    assert {type(row[4]) for row in rows} == {bytes}  # what asyncpg's COPY takes


CSV_TEXT = """handle,type,index,data,ttl
88.118.8/A,URL,1,https://a,

88.118.8/A,EMAIL,2,a@e.test,60
 88.118.8/B ,URL,1,https://b,
88.118.8/B,URL
88.118.8/C,URL,x,https://c,
88.118.8/D,URL,1,https://d,
88.118.8/D,URL,2,https://d2,soon
,URL,1,https://nobody,
88.118.8/E,URL,1,https://e,
"""


def test_read_csv_groups_rows_into_records_and_names_the_bad_row() -> None:
    items = list(read_csv(io.StringIO(CSV_TEXT)))
    assert [(i.row, i.end, i.handle, i.error) for i in items] == [
        (1, 3, "88.118.8/A", None),  # the blank line 2 is skipped, still counted
        (4, 5, "88.118.8/B", "row 5: expected 5 columns, got 2"),
        (6, 6, "88.118.8/C", "row 6: index must be a number, got 'x'"),
        (7, 8, "88.118.8/D", "row 8: ttl must be a number, got 'soon'"),
        (9, 9, "", "row 9: empty handle"),
        (10, 10, "88.118.8/E", None)]
    assert all(type(i) is Item for i in items)
    assert [(v.index, v.type, v.data, v.ttl) for v in items[0].values] == [
        (1, "URL", b"https://a", 86400), (2, "EMAIL", b"a@e.test", 60)]
    assert items[-1].values == (HandleValue(1, "URL", b"https://e"),)


def test_read_jsonl_passes_over_blank_lines_and_counts_them() -> None:
    lines = (b'\xef\xbb\xbf{"handle": "88.118.8/A", "values": [{"index": 1, "type": "URL", '
             b'"data": "https://a"}]}\n  \t\r\n\n{"handle": "88.118.8/B", "values": []}\r\n'
             b'not json\n \n')
    items = list(read_jsonl(io.BytesIO(lines)))
    assert [(i.row, i.handle, i.error is None) for i in items] == [
        (1, "88.118.8/A", True), (4, "88.118.8/B", True), (5, "", False)]
    assert items[0].values == (HandleValue(1, "URL", b"https://a"),)
    assert [i.row for i in read_jsonl(io.BytesIO(lines), skip=1)] == [4, 5]


@pytest.mark.parametrize("skip", [0, 3, 5, 6, 8, 9, 10, 11])
def test_read_csv_resumes_after_skipped_rows(skip: int) -> None:
    """A resumed import skips the committed rows (whole records: a checkpoint is the end
    of a batch) and reads the rest as the full pass does."""
    whole = [i for i in read_csv(io.StringIO(CSV_TEXT)) if i.row > skip]
    assert list(read_csv(io.StringIO(CSV_TEXT), skip=skip)) == whole


def test_record_rows_are_the_stored_rows_but_the_handle_id() -> None:
    """record_rows: the rows stored_rows gives without their handle id, and the digest."""
    records = [("88.118.8/a\u00e9", [HandleValue(1, "URL", b"a")]),
               ("88.118.8/b", [HandleValue(1, "URL", b"b", timestamp=5),
                               HandleValue(2, "EMAIL", b"o@e.test")])]
    for truth, blob in ((SQLITE_TRUTH, SQLITE_BLOB), (BOOL_TRUTH, None)):
        for hid, (key, values) in enumerate(records, start=3):
            laid_out = record_rows(key, values, 777, truth, blob)
            rows, digest = stored_rows(hid, key, values, 777, truth, blob)
            assert [(hid, *tail) for tail in laid_out.tails] == rows
            assert [type(field) for row in rows for field in row] == [
                type(field) for tail in laid_out.tails for field in (hid, *tail)]
            assert laid_out.digest == digest == record_digest(values, 777)


def test_record_rows_make_the_records_image_in_the_same_pass() -> None:
    """record_rows' image is make_image's of the values (demo records, and values an
    image cannot carry: then None, as make_image gives)."""
    from registry.demo import generate  # the generator pulls in the templates

    demo = [values for _name, values in generate(3)]
    odd = [
        [HandleValue(1, "URL", b"u", ttl_type=1, ttl=50), HandleValue(2, "EMAIL", b"e", ttl=9,
                                                                       public_read=False)],
        [HandleValue(1, "HS_VLIST", b"", references=(ValueReference("88.118.8/A", 1),)),
         HandleValue(2, "URL", b"x", timestamp=5)],
        [HandleValue(1, "URL", b"u"), HandleValue(2, "URL", b"v", ttl_type=7)],  # no TTL kind
        [HandleValue(1, "URL", b"u"), HandleValue(2**31, "URL", b"v")],  # index too large
        [HandleValue(1, "HS_VLIST", b"", references=(ValueReference("88.118.8/A", 2**31),))],
        [HandleValue(1, "URL", b"u", ttl=2**31)],
        [HandleValue(1, "URL", bytes(MAX_ARRAY_SIZE + 1))],
    ]
    records = [sorted(values, key=_index) for values in demo + odd]
    laid_out = [record_rows(f"88.118.8/r{i}", values, 777, SQLITE_TRUTH, SQLITE_BLOB)
                for i, values in enumerate(records)]
    images = [one.image for one in laid_out]
    assert images == [make_image(values, 777) for values in records]
    assert [image is None for image in images] == [False] * (len(demo) + 2) + [True] * 5
    assert [one.digest for one in laid_out] == [record_digest(v, 777) for v in records]


def _index(value: HandleValue) -> int:
    return value.index
