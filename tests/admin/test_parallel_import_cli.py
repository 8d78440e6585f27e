"""``idnode import --jobs N``: a file imported by several processes, a share of its handles
each (registry.parallel_import): the same records and report as one process, a failed
share named and resumed, ``kill -9`` of the command taking its processes with it."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from tests.admin.conftest import Node
from tests.admin.test_bulk_cli import kill_once_committed, report_rows

RECORDS = 2600
#: records of the file whose import is killed: enough for a few seconds in two processes
#: (the progress line, shown at most once a second, must show a part done before the end)
KILLED = 120_000


def write_source(path: Path) -> int:
    """A CSV of RECORDS good records under 88.118.8 (two rows each), bad rows between
    them and a handle named again far down the file (in its own batch then); its rows."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data"])
        for n in range(RECORDS):
            writer.writerow([f"88.118.8/PAR-{n:05d}", 1, "URL", f"https://p.example/{n}"])
            writer.writerow([f"88.118.8/PAR-{n:05d}", 2, "EMAIL", f"ops{n}@p.example"])
            rows += 2
            if n % 500 == 7:
                writer.writerow([f"88.118.8/BAD-{n}", "one", "URL", "https://x"])
                writer.writerow(["no-slash", "1", "URL", "https://x"])
                rows += 2
            if n in (3, 2400):
                writer.writerow(["88.118.8/again", "1", "URL", f"https://again/{n}"])
                rows += 1
    return rows


def contents(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What the node stores of the imported handles (their names, values and heads, not
    the import's times)."""
    with sqlite3.connect(db) as conn:
        heads = conn.execute(
            "SELECT name, name_key, prefix, enterprise, version, image IS NULL FROM handles "
            "WHERE prefix = '88.118.8' ORDER BY name_key").fetchall()
        values = conn.execute(
            "SELECT h.name_key, v.idx, v.type, v.data, v.ttl_type, v.ttl, v.admin_read, "
            "v.admin_write, v.public_read, v.public_write, v.\"references\" FROM handles h "
            "JOIN handle_values v ON v.handle_id = h.id WHERE h.prefix = '88.118.8' "
            "ORDER BY h.name_key, v.idx").fetchall()
    return heads, values


def jobs(db: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT job_id, rows_done, status FROM import_jobs "
                            "ORDER BY job_id").fetchall()


def test_two_processes_store_and_report_what_one_does(initialised_template: Path,
                                                      tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    rows = write_source(source)
    one, two = Node(tmp_path / "one"), Node(tmp_path / "two")
    shutil.copytree(initialised_template, one.data_dir)
    shutil.copytree(initialised_template, two.data_dir)
    report_one, report_two = tmp_path / "one.csv", tmp_path / "two.csv"
    (tmp_path / "two.csv.1.2").write_text("row,handle,reason\n1,88.118.8/X,another job's\n")
    alone = one.json("import", str(source), "--jobs", "1", "--batch", "500", "--quiet",
                     "--report", str(report_one))
    shared = two.json("import", str(source), "--jobs", "2", "--batch", "500", "--quiet",
                      "--report", str(report_two))
    assert (alone["processes"], shared["processes"]) == (1, 2)
    for summary in (alone, shared):
        assert (summary["rows"], summary["rows_done"], summary["inserted"]) == (
            rows, rows, RECORDS + 1)
        assert summary["rejected"] == 13  # 6 x 2 bad rows, the handle named again
    assert report_rows(report_one) == report_rows(report_two)
    assert {r["handle"] for r in report_rows(report_two)} >= {"88.118.8/again", "no-slash"}
    assert contents(one.db) == contents(two.db)
    assert len(contents(two.db)[0]) == RECORDS + 1  # and the handle named again
    file_job, *share_jobs = jobs(two.db)
    assert file_job[1:] == (rows, "done")
    assert [(job_id.rpartition("/")[2], status) for job_id, _rows, status in share_jobs] == [
        ("1.2", "done"), ("2.2", "done")]
    assert not list(tmp_path.glob("two.csv.*"))  # the shares' parts were merged
    assert two.run("audit", "verify").returncode == 0
    again = two.json("import", str(source), "--quiet")
    assert again["already_done"] is True


def test_a_failed_share_is_named_and_the_next_run_resumes_it(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "many.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data"])
        writer.writerows([f"88.118.8/F-{n:05d}", 1, "URL", f"https://f/{n}"] for n in range(3000))
    with sqlite3.connect(node.db) as conn:  # the database refuses one record's batch
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON handles "
                     "WHEN NEW.name = '88.118.8/F-02500' BEGIN SELECT RAISE(ABORT, 'refused'); "
                     "END")
    failed = node.run("import", str(source), "--jobs", "2", "--batch", "300", "--quiet",
                      expect=1)
    assert "share" in failed.stderr and "refused" in failed.stderr
    assert "run the same command again" in failed.stderr
    with sqlite3.connect(node.db) as conn:
        stored = conn.execute("SELECT count(*) FROM handles WHERE name LIKE '88.118.8/F-%'"
                              ).fetchone()[0]
    assert 0 < stored < 3000
    assert all(status == "running" for _job, _rows, status in jobs(node.db))

    with sqlite3.connect(node.db) as conn:
        conn.execute("DROP TRIGGER refuse")
    resumed = node.json("import", str(source), "--jobs", "1", "--batch", "300", "--quiet")
    assert resumed["processes"] == 2  # as many as the run it resumes, whatever --jobs says
    assert resumed["inserted"] == 3000 - stored
    assert (resumed["rejected"], resumed["rows_done"]) == (0, 3000)
    assert resumed["resumed_from"] > 0
    with sqlite3.connect(node.db) as conn:
        names = conn.execute("SELECT count(*), count(DISTINCT name_key) FROM handles "
                             "WHERE name LIKE '88.118.8/F-%'").fetchone()
    assert names == (3000, 3000)
    assert report_rows(Path(resumed["report"])) == []


def _running_with(text: str) -> list[int]:
    """Processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_kill_9_of_the_command_ends_its_processes_and_the_import_resumes(
        node: Node, tmp_path: Path) -> None:
    source = tmp_path / "killed.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data"])
        writer.writerows([f"88.118.8/K-{n:06d}", i, "URL", f"https://k/{n}/{i}"]
                         for n in range(KILLED) for i in (1, 2))
    committed = kill_once_committed([
        sys.executable, "-m", "admin.cli", "--data-dir", str(node.data_dir), "import",
        str(source), "--jobs", "2", "--batch", "4000"])
    assert 0 < committed < 2 * KILLED, "the import should have been killed midway"
    deadline = time.monotonic() + 10
    while _running_with(str(source)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running_with(str(source)) == []  # its processes ended with it

    resumed = node.json("import", str(source), "--batch", "4000", "--quiet")
    assert resumed["resumed_from"] >= committed
    assert (resumed["rejected"], resumed["rows_done"]) == (0, 2 * KILLED)
    with sqlite3.connect(node.db) as conn:
        handles, values = conn.execute(
            "SELECT count(DISTINCT h.id), count(*) FROM handles h JOIN handle_values v "
            "ON v.handle_id = h.id WHERE h.name LIKE '88.118.8/K-%'").fetchone()
    assert (handles, values) == (KILLED, KILLED * 3)  # with the enterprise's HS_ADMIN
