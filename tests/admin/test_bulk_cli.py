"""``idnode import`` / ``export``: bad rows to the report, kill -9 and resume, round trip."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.admin.conftest import REPO, Node, idnode

PROGRESS = re.compile(r"import: (\d+)/(\d+) rows")


def write_csv(path: Path, handles: int, values_per_handle: int, *, bom: bool = False) -> int:
    """A valid CSV of ``handles`` records under 88.118.8; the number of data rows."""
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data", "ttl"])
        for n in range(handles):
            for index in range(1, values_per_handle + 1):
                writer.writerow([f"88.118.8/P-{n:07d}", index, "URL" if index == 1 else "NOTE",
                                 f"https://p.example/{n}/{index}", 3600 if index == 1 else ""])
    return handles * values_per_handle


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_import_reports_bad_rows(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    rows = write_csv(source, 300, 2, bom=True)  # as a spreadsheet program saves it
    with source.open("a", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["88.118.8/BAD-INDEX", "one", "URL", "https://x", ""])     # row 601
        writer.writerow(["88.118.8/BAD-COLUMNS", "1", "URL"])                        # row 602
        writer.writerow(["no-slash-handle", "1", "URL", "https://x", ""])            # row 603
        writer.writerow(["88.118.8/DUP-INDEX", "1", "URL", "https://x", ""])         # row 604
        writer.writerow(["88.118.8/DUP-INDEX", "1", "URL", "https://y", ""])         # row 605
        writer.writerow(["0.NA/88.118.8", "1", "URL", "https://exists", ""])         # row 606
        writer.writerow(["88.118.8/GOOD-LAST", "1", "URL", "https://ok", ""])        # row 607
    summary = node.json("import", str(source), "--batch", "200")
    assert summary["rows"] == rows + 7
    assert summary["inserted"] == 301
    assert summary["rejected"] == 5
    rejected = report_rows(Path(summary["report"]))
    assert [int(r["row"]) for r in rejected] == [601, 602, 603, 604, 606]
    reasons = {int(r["row"]): (r["handle"], r["reason"]) for r in rejected}
    assert reasons[601][1] == "row 601: index must be a number, got 'one'"
    assert "columns" in reasons[602][1]
    assert reasons[603][0] == "no-slash-handle"
    assert "index 1" in reasons[604][1]
    assert "exists" in reasons[606][1]
    record = node.json("handle", "get", "88.118.8/P-0000007")
    assert [(v["index"], v["type"], v["ttl"]) for v in record["values"]] == [
        (1, "URL", 3600), (2, "NOTE", 86400), (100, "HS_ADMIN", 86400)]  # ACME's admin
    assert node.json("handle", "list", "88.118.8")["total"] == 301


def test_jsonl_import_reports_bad_lines(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    good = {"handle": "88.118.8/J-1",
            "values": [{"index": 1, "type": "URL", "data": {"format": "string",
                                                             "value": "https://j.example/1"}}]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"values": []}),
        json.dumps({"handle": "88.118.8/J-2", "values": [{"index": 1, "type": "URL"}]}),
        "",
        json.dumps(good | {"handle": "88.118.8/J-3"}),
    ]
    source.write_text("\n".join(lines) + "\n")
    report = tmp_path / "rejected.csv"
    summary = node.json("import", str(source), "--report", str(report))
    assert (summary["inserted"], summary["rejected"]) == (2, 3)
    assert [int(r["row"]) for r in report_rows(report)] == [2, 3, 4]
    assert node.json("handle", "get", "88.118.8/J-3")["values"][0]["data"]["value"] == (
        "https://j.example/1")
    strict = idnode(node.data_dir, "import", str(source), "--strict")
    assert strict.returncode == 0  # already imported: nothing to do
    assert "already imported" in strict.stdout


def test_export_import_round_trip_is_byte_identical(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    write_csv(source, 50, 3)
    node.run("import", str(source))
    node.run("handle", "create", "88.118.8/ADMIN-REF", "--value", "1:URL:https://a.example",
             "--value", "100:HS_ADMIN:0.NA/88.118.8:300", "--value",
             "200:HS_VLIST:0.NA/88.118.8:300,0.NA/88.118:300", "--ttl", "120")
    node.run("enterprise", "credentials", "ACME")
    first = tmp_path / "first.jsonl"
    exported = node.json("export", str(first))
    assert exported["records"] >= 53
    assert oct(first.stat().st_mode & 0o777) == "0o600"

    fresh = Node(tmp_path / "fresh")
    fresh.run("init")
    fresh.run("import", str(first), "--overwrite")
    second = tmp_path / "second.jsonl"
    fresh.run("export", str(second))
    assert first.read_bytes() == second.read_bytes()

    only = tmp_path / "only.jsonl"
    fresh.run("export", "--prefix", "88.118.8", str(only))
    assert {json.loads(line)["handle"].split("/")[0] for line in only.open()} == {"88.118.8"}


def kill_once_committed(command: list[str], env: dict[str, str] | None = None) -> int:
    """Start the import ``command``, SIGKILL it once its progress shows a committed
    batch; the rows it showed committed."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    committed = 0
    for line in process.stderr:
        match = PROGRESS.search(line)
        if match and int(match.group(1)) > 0:
            committed = int(match.group(1))
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    return committed


def test_import_resumes_after_kill_without_duplicates(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    rows = write_csv(source, 40_000, 5)
    committed = kill_once_committed([
        sys.executable, "-m", "admin.cli", "--data-dir", str(node.data_dir), "import",
        str(source), "--batch", "4000"])
    assert 0 < committed < rows, "the import should have been killed midway"

    resumed = node.json("import", str(source), "--batch", "4000", "--quiet")
    assert resumed["resumed_from"] >= committed
    assert resumed["rejected"] == 0
    assert resumed["rows_done"] == rows
    with sqlite3.connect(node.db) as db:
        handles, values, distinct = db.execute(
            "SELECT count(DISTINCT h.id), count(*), count(DISTINCT h.name_key || '#' || v.idx) "
            "FROM handles h JOIN handle_values v ON v.handle_id = h.id "
            "WHERE h.prefix = '88.118.8' AND h.name LIKE '88.118.8/P-%'"
        ).fetchone()
    # each record also holds the default HS_ADMIN of its enterprise (registry.admins)
    assert (handles, values, distinct) == (40_000, rows + 40_000, rows + 40_000)


def test_import_indexes_gs1_oid_and_ecode_rows(node: Node, tmp_path: Path) -> None:
    """Other schemes' identifiers come in as ID.GS1 / ID.OID / ID.ECODE rows; bad ones are
    reported."""
    source = tmp_path / "coded.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data", "ttl"])
        writer.writerow(["88.118.8/G-1", "1", "URL", "https://x/1", ""])
        writer.writerow(["88.118.8/G-1", "2", "ID.GS1", "(01)06901234567892(21)G1", ""])
        writer.writerow(["88.118.8/G-1", "3", "ID.OID", "urn:oid:1.2.156.3001.1", ""])
        writer.writerow(["88.118.8/G-1", "4", "ID.ECODE", "ecode:310001G1", ""])
        writer.writerow(["88.118.8/G-2", "1", "URL", "https://x/2", ""])
        writer.writerow(["88.118.8/G-2", "2", "ID.GS1", "(01)06901234567893(21)G2", ""])
        writer.writerow(["88.118.8/G-3", "1", "URL", "https://x/3", ""])
        writer.writerow(["88.118.8/G-3", "2", "ID.GS1", "urn:epc:id:sgtin:6901234.056789.G1", ""])
        writer.writerow(["88.118.8/G-4", "1", "URL", "https://x/4", ""])
        writer.writerow(["88.118.8/G-4", "2", "ID.ECODE", "ecode:3 10001 g4", ""])
    summary = node.json("import", str(source))
    assert (summary["inserted"], summary["rejected"]) == (1, 3)
    reasons = {r["handle"]: r["reason"] for r in report_rows(Path(summary["report"]))}
    assert "check digit" in reasons["88.118.8/G-2"]
    assert "already bound to 88.118.8/G-1" in reasons["88.118.8/G-3"]
    assert "upper-case letters" in reasons["88.118.8/G-4"]
    assert node.json("resolve", "Ecode 3 10001 G1")["handle"] == "88.118.8/G-1"
    assert node.json("resolve", "urn:oid:1.2.156.3001.1")["handle"] == "88.118.8/G-1"
