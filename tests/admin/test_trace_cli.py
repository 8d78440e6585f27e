"""``idnode demo generate``, ``idnode trace`` and event rules from the command line."""

from __future__ import annotations

import json

import pytest

from tests.admin.conftest import Node
from tests.admin.test_trace_cli_support import Cli


@pytest.fixture
def cli(node: Node, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(node, capsys)


def test_demo_into_the_registry_then_trace_down_up_and_events(cli: Cli) -> None:
    made = cli.json("demo", "generate", "--products", "40", "--seed", "5", "--quiet",
                    "--force")  # 88.118.8 is ACME's in this node
    assert made["rejected"] == 0 and made["inserted"] == made["records"] > 40
    machine = next(h for h in cli.json("handle", "list", "88.118.9", "--limit", "500")["handles"]
                   if "/CMP-" not in h and "/MB-" not in h)
    down = cli.json("trace", machine, "--depth", "3")
    assert down["node"]["template"] == "machinery.equipment@1"
    parts = down["down"]["children"]
    assert parts and all(p["source"] == "local" and p["signature"] == "unsigned"
                         for p in parts if "repeated" not in p)
    batch = next(p["handle"] for p in parts if p["relation"] == "batch")
    up = cli.json("trace", batch, "--up", "--depth", "1")
    assert machine in {n["handle"] for n in up["up"]["usedIn"]}
    text = cli.run("trace", machine, "--events").stdout
    assert text.splitlines()[0].startswith(machine) and "produced" in text
    assert "events:" in text and "parts:" not in text
    cli.run("trace", "88.118.8/NOPE", expect=1)
    assert "give at most one" in cli.run("trace", machine, "--up", "--all", expect=2).stderr


def test_demo_file_imports_and_events_cannot_be_rewritten(cli: Cli) -> None:
    out = cli.node.data_dir / "demo.jsonl"
    made = cli.json("demo", "generate", "--products", "10", "--file", str(out), "--quiet")
    lines = out.read_text().splitlines()
    assert made["records"] == len(lines) > 10
    imported = cli.json("import", str(out), "--quiet")
    assert imported["inserted"] == len(lines) and imported["rejected"] == 0
    product = next(json.loads(line) for line in reversed(lines))
    handle = product["handle"]
    event = next(v for v in product["values"] if v["type"] == "TRACE.EVENT")
    result = cli.run("handle", "set", handle, "--value",
                      f"{event['index']}:TRACE.EVENT:{{}}", expect=1)
    assert "append-only" in result.stderr
