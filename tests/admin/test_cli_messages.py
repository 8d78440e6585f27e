"""What a person reads: errors that name their reason, paged lists, aligned tables, trace
"not found", import reasons in words, and no database left behind in a wrong directory."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from admin.output import table
from tests.admin.conftest import Node, idnode
from tests.admin.test_trace_cli_support import Cli

URL = "1:URL:https://example.com/tv"


@pytest.fixture
def cli(node: Node, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(node, capsys)


def test_store_errors_name_their_reason(cli: Cli) -> None:
    cli.run("handle", "create", "88.118.8/TV-0002", "--value", URL)
    again = cli.run("handle", "create", "88.118.8/TV-0002", "--value", URL, expect=1)
    assert again.stderr == "idnode: 88.118.8/TV-0002 already exists\n"
    gone = cli.run("handle", "delete", "88.118.8/NOPE", expect=1)
    assert gone.stderr == "idnode: 88.118.8/NOPE not found\n"
    missing = cli.run("resolve", "88.118.8/NOPE", expect=1)
    assert missing.stderr == "idnode: 88.118.8/NOPE: HANDLE NOT FOUND\n"


def test_handle_list_pages_and_says_how_many_are_left(cli: Cli) -> None:
    for n in range(5):
        cli.run("handle", "create", f"88.118.8/P-{n}", "--value", URL)
    lines = cli.run("handle", "list", "88.118.8", "--limit", "2").stdout.splitlines()
    assert len(lines) == 3 and lines[:2] == ["88.118.8/P-0", "88.118.8/P-1"]
    assert lines[2] == ("page 0: 1-2 of 5, 3 more: idnode handle list 88.118.8 --page 1 "
                        "--limit 2")
    last = cli.run("handle", "list", "88.118.8", "--limit", "2", "--page", "2").stdout
    assert last.splitlines() == ["88.118.8/P-4", "page 2: 5-5 of 5, no more"]
    page = cli.json("handle", "list", "88.118.8", "--limit", "2", "--page", "1")
    assert page["remaining"] == 1 and page["total"] == 5
    assert "--limit" in cli.run("handle", "list", "--limit", "0", expect=2).stderr


def test_tables_align_chinese_names_by_display_width() -> None:
    text = table([{"code": "HY", "name": "海悦家电", "industry": "appliance"},
                  {"code": "TS", "name": "Taishan", "industry": "machinery"}])
    header, first, second = text.splitlines()
    # the third column starts at the same terminal column on every line: 海悦家电 is 8 wide
    assert header.index("INDUSTRY") == first.index("appliance") + 4 == second.index("machinery")
    assert first.startswith("HY    海悦家电  appliance")


def test_enterprise_list_with_a_chinese_name_is_aligned(cli: Cli) -> None:
    cli.run("enterprise", "add", "HYJD", "--name", "海悦家电有限公司", "--industry", "appliance")
    lines = cli.run("enterprise", "list").stdout.splitlines()
    starts = [line.index("appliance") + (line.count("海悦家电有限公司") * 8) for line in lines[1:]]
    assert len(set(starts)) == 1, lines


def test_trace_of_a_missing_handle_is_not_found_in_every_direction(cli: Cli) -> None:
    for extra in ((), ("--up",), ("--events",), ("--all",)):
        result = cli.run("trace", "88.118.8/NOPE", *extra, expect=1)
        assert result.stderr == "idnode: 88.118.8/NOPE not found\n", extra
        assert result.stdout == ""
    answer = cli.run("--json", "trace", "88.118.8/NOPE", "--up", expect=1)
    assert json.loads(answer.stdout)["responseCode"] == 100


def test_import_rejections_read_as_words(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("handle,index,type,data,ttl\n"
                      "88.118.8/A,one,URL,https://example.com/a,\n"
                      "88.118.8/B,1,URL,https://example.com/b,soon\n"
                      "88.118.8/C,1,URL,https://example.com/c,\n", encoding="utf-8")
    report = tmp_path / "rejected.csv"
    done = cli.json("import", str(source), "--report", str(report), "--quiet")
    assert done["inserted"] == 1 and done["rejected"] == 2
    rows = list(csv.reader(report.open(encoding="utf-8")))
    reasons = [row[-1] for row in rows if row[1].startswith("88.118.8/")]
    assert reasons == ["row 1: index must be a number, got 'one'",
                       "row 2: ttl must be a number, got 'soon'"]


def test_status_in_a_wrong_directory_creates_nothing(tmp_path: Path) -> None:
    where = tmp_path / "not-a-node"
    result = idnode(where, "status")
    assert result.returncode == 1, result
    assert "no node database at" in result.stdout and str(where) in result.stdout
    assert not where.exists()
    listed = idnode(where, "handle", "list")
    assert listed.returncode == 1 and "run 'idnode init'" in listed.stderr
    assert not where.exists()
