"""registry.batch_import: every batch operation against the store, the report, and resume
after an interruption without doing anything twice."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from protocol.values import HandleValue
from registry.batch_import import import_batch
from registry.store import HandleStore

BATCH = """AUTHENTICATE SECKEY:300:0.NA/88.118.8
not-used-by-the-operator-import

CREATE 88.118.8/a
1 URL 86400 1110 UTF8 https://example.test/a
2 EMAIL 86400 1100 UTF8 a@example.test

CREATE 88.118.8/b
1 URL 86400 1110 UTF8 https://example.test/b

CREATE 88.118.8/exists
1 URL 86400 1110 UTF8 https://example.test/new

ADD 88.118.8/a
3 DESC 86400 1110 UTF8 added

ADD 88.118.8/a
1 URL 86400 1110 UTF8 index-taken

MODIFY 88.118.8/a
1 URL 60 1110 UTF8 https://example.test/a2

REMOVE 2:88.118.8/a
DELETE 88.118.8/b
DELETE 88.118.8/never
HOME 127.0.0.1:2641:TCP
0.NA/88.118.20

CREATE 88.118.8/bad
1 URL x 1110 UTF8 y

"""


def report_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


class Stop(Exception):
    pass


async def test_operations_and_report(database: HandleStore, tmp_path: Path) -> None:
    await database.create_handle("88.118.8/exists", [HandleValue(1, "URL", b"old")], actor="t")
    source = tmp_path / "ops.batch"
    source.write_text(BATCH)
    summary = await import_batch(database, source, actor="op")
    a = await database.get_handle("88.118.8/a")
    assert a is not None
    assert [(v.index, v.data, v.ttl) for v in a.values] == [
        (1, b"https://example.test/a2", 60), (3, b"added", 86400)]
    assert await database.get_handle("88.118.8/b") is None
    assert (await database.get_handle("88.118.8/exists")).values[0].data == b"old"  # type: ignore[union-attr]
    info = await database.get_prefix("88.118.20")
    assert info is not None and info.kind == "hosted"
    rows = list(csv.reader(report_lines(Path(summary.report))))
    assert rows[0] == ["row", "handle", "reason"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("11", "88.118.8/exists"), ("17", "88.118.8/a"), ("25", "88.118.8/never"),
        ("29", "88.118.8/bad")]
    assert rows[2][2].startswith("ADD: ")
    assert (summary.inserted, summary.rejected) == (2, 4)
    again = await import_batch(database, source, actor="op")
    assert again.already_done


async def test_resume_after_interruption(database: HandleStore, tmp_path: Path) -> None:
    source = tmp_path / "ops.batch"
    source.write_text("".join(
        f"CREATE 88.118.8/r{n}\n1 URL 86400 1110 UTF8 https://e.test/{n}\n\nADD 88.118.8/r{n}\n"
        f"2 DESC 86400 1110 UTF8 n{n}\n\n" for n in range(6)))
    calls = 0

    def interrupt(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:  # after a few committed operations
            raise Stop

    with pytest.raises(Stop):
        await import_batch(database, source, batch_rows=1, on_progress=interrupt)
    summary = await import_batch(database, source, batch_rows=1)  # a value added twice fails
    assert summary.resumed_from > 0 and summary.rejected == 0
    for n in range(6):
        record = await database.get_handle(f"88.118.8/r{n}")
        assert record is not None and [v.index for v in record.values] == [1, 2]
