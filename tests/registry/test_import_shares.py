"""How a parallel import splits a file (registry.importer.Share, line_handle) and merges
its shares' reports (registry.parallel_import.merge_reports)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from registry.errors import InvalidArgument
from registry.importer import (
    Share,
    batches_of,
    import_file,
    line_handle,
    read_csv,
    read_jsonl,
    scan_source,
)
from registry.parallel_import import ShareBatches, merge_reports, share_report
from registry.store import HandleStore

LINES = b"".join([
    b'{"handle":"88.118.8/A","values":[{"index":1,"type":"URL","data":"https://a"}]}\n',
    b'{"handle": "88.118.8/b", "values": [{"index": 1, "type": "URL", "data": "https://b"}]}\n',
    b'{"values": [{"index": 1, "type": "URL", "data": "https://c"}], "handle": "88.118.8/C"}\n',
    b'{"handle":"88.118.8/B","values":[]}\n',  # the same key as line 2
    b"not json\n",
    b'{"handle":"88.118.8/\\u00c4","values":[{"index":1,"type":"URL","data":"x"}]}\n',
    b'{"handle":"88.118.8/D","values":[],"handle":"88.118.8/E"}\n',  # the last one counts
    b"\n",
    b'{"handle":"88.118.8/F","values":[{"index":1,"type":"URL","data":"https://f"}]}\n',
])


@pytest.mark.parametrize("line, handle", [
    (b'{"handle":"88.118.8/A","values":[]}', "88.118.8/A"),
    (b'{"handle": "88.118.8/\xc3\xa4", "values": []}', "88.118.8/\u00e4"),
    (b'{"values": [], "handle": "88.118.8/A"}', None),  # not first: parse the line
    (b'{"handle":"88.118.8/\\"Q\\"","values":[]}', None),  # an escape
    (b'{"handle":"88.118.8/D","values":[],"handle":"88.118.8/E"}', None),  # named twice
    (b'{"handle":"88.118.8/\xff","values":[]}', None),  # not UTF-8
    (b'{"handle":"88.118.8/A', None),  # cut short
])
def test_line_handle_reads_only_what_it_can_read_safely(line: bytes, handle: str | None) -> None:
    assert line_handle(line) == handle


@pytest.mark.parametrize("shares", [2, 3, 4])
def test_the_shares_of_a_jsonl_file_are_its_records_each_once(shares: int) -> None:
    whole = list(read_jsonl(io.BytesIO(LINES)))
    parts = [list(read_jsonl(io.BytesIO(LINES), share=Share(n, shares))) for n in range(shares)]
    assert sorted((i for part in parts for i in part), key=lambda i: i.row) == whole
    for part in parts:
        assert [i.row for i in part] == sorted(i.row for i in part)  # in the file's order
    keys = {}
    for number, part in enumerate(parts):
        for item in part:
            if item.handle:
                assert keys.setdefault(item.handle.upper(), number) == number
    assert keys["88.118.8/B"] == next(n for n, p in enumerate(parts)
                                      if any(i.row == 2 for i in p))
    for number, part in enumerate(parts):  # a resumed share skips its committed rows
        assert list(read_jsonl(io.BytesIO(LINES), skip=4, share=Share(number, shares))) == [
            i for i in part if i.row > 4]


CSV_TEXT = """handle,index,type,data
88.118.8/A,1,URL,https://a
88.118.8/A,2,EMAIL,a@e.test
88.118.8/b,1,URL,https://b
,1,URL,https://nobody
88.118.8/C,x,URL,https://c
88.118.8/B,1,URL,https://b-again
88.118.8/D,1,URL,https://d
"""


@pytest.mark.parametrize("shares", [2, 3])
def test_the_shares_of_a_csv_file_are_its_records_each_once(shares: int) -> None:
    whole = list(read_csv(io.StringIO(CSV_TEXT)))
    parts = [list(read_csv(io.StringIO(CSV_TEXT), share=Share(n, shares)))
             for n in range(shares)]
    assert sorted((i for part in parts for i in part), key=lambda i: i.row) == whole
    b_shares = {n for n, part in enumerate(parts) for i in part if i.handle.upper() == "88.118.8/B"}
    assert len(b_shares) == 1
    for number, part in enumerate(parts):
        assert list(read_csv(io.StringIO(CSV_TEXT), skip=3, share=Share(number, shares))) == [
            i for i in part if i.row > 3]


def test_a_share_takes_a_handle_whatever_its_case_and_a_nameless_record_by_row() -> None:
    """Names differing in ASCII case are one handle (registry.names.name_key)."""
    for of in (2, 3, 4):
        for name in ("88.118.8/tv-1", "88.118.8/\u00e9t\u00e9", "0.NA/88.118"):
            other_case = "".join(c.swapcase() if c.isascii() else c for c in name)
            takers = [n for n in range(of) if Share(n, of).takes(name, 1)]
            assert takers == [n for n in range(of) if Share(n, of).takes(other_case, 99)]
            assert len(takers) == 1
        assert [n for n in range(of) if Share(n, of).takes("", 7)] == [7 % of]


def test_batches_follow_their_limit_asked_with_each_batch_first_row() -> None:
    text = "handle,index,type,data\n" + "".join(
        f"88.118.8/R{i},1,URL,https://r{i}\n" for i in range(20))
    asked: list[tuple[int, int]] = []

    def limit(batches_before: int, row: int) -> int:
        asked.append((batches_before, row))
        return (3, 5, 100)[min(batches_before, 2)]

    batches = list(batches_of(read_csv(io.StringIO(text)), 1000, limit))
    assert [len(b) for b in batches] == [3, 5, 12]
    assert asked == [(0, 1), (1, 4), (2, 9)]
    assert [len(b) for b in batches_of(read_csv(io.StringIO(text)), 8)] == [8, 8, 4]


def test_a_share_batches_grow_to_whole_then_shrink_near_the_end() -> None:
    """A share's first batch is small (no share stores while all make their first ready),
    the next ones double up to ``batch_rows``, and near the file's end a batch is half
    of what the share has left, not under 1,000 rows."""
    sizes = ShareBatches(batch_rows=5000, rows_total=100_000, shares=2)
    assert [sizes(n, 1) for n in range(5)] == [1000, 2000, 4000, 5000, 5000]
    assert sizes(9, 100_000 - 8_000 + 1) == 2000  # 8,000 rows left: 4,000 the share's
    assert sizes(9, 100_000 - 1_000 + 1) == 1000
    assert sizes(9, 100_000) == 1000
    asked = ShareBatches(batch_rows=300, rows_total=100_000, shares=3)
    assert [asked(n, 1) for n in range(4)] == [60, 120, 240, 300]
    assert asked(9, 100_000) == 300  # never over what was asked
    whole = ShareBatches(batch_rows=5000, rows_total=100_000, shares=2)
    rows, made, row = [], 0, 1
    while row <= 100_000:  # a share taking every second row of the file
        size = whole(made, row)
        rows.append(size)
        row, made = row + 2 * size, made + 1
    assert max(rows) == 5000 and sum(rows) >= 50_000
    assert all(size >= 1000 for size in rows)


def test_merging_reports_keeps_every_row_in_order_and_removes_the_parts(tmp_path: Path) -> None:
    report = tmp_path / "f.csv.rejected.csv"
    report.write_text("row,handle,reason\n3,88.118.8/C,bad\n", encoding="utf-8")
    parts = [share_report(report, Share(n, 2)) for n in range(2)]
    assert [p.name for p in parts] == ["f.csv.rejected.csv.1.2", "f.csv.rejected.csv.2.2"]
    parts[0].write_text("row,handle,reason\n9,88.118.8/I,\"comma, inside\"\n5,88.118.8/E,x\n",
                        encoding="utf-8")
    parts[1].write_text("row,handle,reason\n7,88.118.8/G,y\n", encoding="utf-8")
    merge_reports(report, 2, resumed=True)
    with report.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["row", "handle", "reason"], ["3", "88.118.8/C", "bad"],
                    ["5", "88.118.8/E", "x"], ["7", "88.118.8/G", "y"],
                    ["9", "88.118.8/I", "comma, inside"]]
    assert not any(p.exists() for p in parts)
    parts[1].write_text("row,handle,reason\n7,88.118.8/G,y\n", encoding="utf-8")
    merge_reports(report, 2, resumed=True)  # a merge cut short before it removed a part
    with report.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == rows
    merge_reports(report, 2, resumed=False)  # a fresh run: what the parts hold (none)
    assert report.read_text(encoding="utf-8").splitlines() == ["row,handle,reason"]


def test_line_handle_agrees_with_the_parsed_handle_on_exported_lines() -> None:
    """Lines as the exporter writes them: the cheap read gives the parsed handle."""
    for name in ("88.118.8/A", "88.118.8/\u4e2d\u6587", "88.118.8/a b"):
        line = json.dumps({"handle": name, "values": []}, ensure_ascii=False).encode()
        assert line_handle(line) == name


async def test_a_file_imported_in_shares_is_not_resumed_by_one_process(
        database: HandleStore, tmp_path: Path) -> None:
    source = tmp_path / "f.csv"
    source.write_text("handle,index,type,data\n88.118.8/S,1,URL,https://s\n", encoding="utf-8")
    job_id = scan_source(source, "csv").job_id
    await database.start_import_job(job_id, scan_source(source, "csv").digest)
    await database.start_import_job(f"{job_id}/1.2", scan_source(source, "csv").digest)
    with pytest.raises(InvalidArgument, match="2 processes"):
        await import_file(database, source)
    assert await database.get_handle("88.118.8/S") is None
