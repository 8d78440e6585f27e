"""``idnode demo generate`` stays in demo prefixes, says why records were rejected, and
points its URLs at this node's configured public address and port."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.admin.conftest import Node
from tests.admin.test_trace_cli_support import Cli


@pytest.fixture
def cli(node: Node, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(node, capsys)


def test_a_real_enterprises_prefix_is_refused_unless_forced(cli: Cli) -> None:
    refused = cli.run("demo", "generate", "--products", "3", "--quiet", expect=1)
    assert refused.stderr == (
        "idnode: prefix 88.118.8 belongs to enterprise ACME, not to the demo enterprise "
        "HAIYUE: demo data goes only into demo prefixes (--force writes there anyway)\n")
    assert cli.json("handle", "list", "88.118.8")["total"] == 0
    assert cli.json("handle", "list", "88.118.9")["total"] == 0  # nothing half-done
    made = cli.json("demo", "generate", "--products", "3", "--quiet", "--force")
    assert made["inserted"] == made["records"] > 3 and made["rejected"] == 0


def test_demo_enterprises_are_onboarded_and_rejections_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = Cli(Node(tmp_path / "bare"), capsys)
    bare.run("init")
    first = bare.json("demo", "generate", "--products", "3", "--quiet")
    assert first["rejected"] == 0 and "report" not in first
    codes = {row["code"] for row in bare.json("enterprise", "list")}
    assert codes == {"HAIYUE", "TAISHAN", "LINGHAI"}
    again = bare.run("demo", "generate", "--products", "3", "--quiet").stdout
    report = bare.node.data_dir / "demo.rejected.csv"
    assert f"records were rejected, listed in {report}; the first: " in again
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert len(rows) == first["records"]
    assert all(row["reason"] == f"{row['handle']} exists" for row in rows)
    assert [int(row["row"]) for row in rows] == list(range(1, len(rows) + 1))


def test_urls_follow_the_configured_public_address(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDNODE_PUBLIC_HOST", "10.1.2.3")
    monkeypatch.setenv("IDNODE_HTTP_PORT", "8088")
    out = tmp_path / "demo.jsonl"
    cli.json("demo", "generate", "--products", "2", "--file", str(out), "--quiet")
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        url = next(v for v in record["values"] if v["index"] == 1)["data"]["value"]
        assert url == f"http://10.1.2.3:8088/trace/{record['handle']}"
