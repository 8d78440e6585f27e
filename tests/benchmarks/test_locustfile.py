"""The locustfile as its users run it: against a real node, with nothing but --host
(and the node's Handle port); identifiers come from the command line or the node."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.node_keys import NoIdentifiers, node_keys
from tests.benchmarks.serving import serving
from tests.resolver.test_e2e import REPO

LOCUSTFILE = REPO / "benchmarks" / "locustfile.py"


@dataclass
class Node:
    url: str
    handle_port: int


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    folder = tmp_path_factory.mktemp("locust-node")
    idnode = [sys.executable, "-m", "admin.cli", "--data-dir", str(folder)]
    subprocess.run([*idnode, "init"], check=True, capture_output=True, cwd=REPO, timeout=120)
    # one load generator, many requests
    with serving(folder, {"IDNODE_RATE_LIMIT": "0"}) as (http_port, handle_port):
        yield Node(f"http://127.0.0.1:{http_port}", handle_port)


def test_headless_locust_needs_only_the_node_address(node: Node, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", node.url,
         "--hdl-port", str(node.handle_port), "--headless", "-u", "3", "-r", "3",
         "--run-time", "3s", "--stop-timeout", "2", "--only-summary", "--csv", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(f"{out}_stats.csv", encoding="utf-8") as stats:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(stats)}
    total = rows[("", "Aggregated")]
    assert int(total["Request Count"]) > 0 and int(total["Failure Count"]) == 0, rows
    assert {kind for kind, _ in rows} >= {"GET", "HDL-UDP", "HDL-TCP"}  # Writer: no key given
    assert "prefix handle(s) 0.NA/88.118" in done.stderr


def test_identifiers_from_the_command_line_or_the_node(node: Node) -> None:
    warnings: list[str] = []
    given = node_keys(node.url, ["88.118/A", "88.118/B"], ["88.118"], warnings.append)
    assert given.hosted == ("88.118/A", "88.118/B") and given.miss_prefix == "88.118"
    own = node_keys(node.url, [], ["88.118"], warnings.append)
    assert own.hosted == ("0.NA/88.118",)
    assert len(warnings) == 1 and "HTTP 403" in warnings[0]  # anonymous listing refused
    with pytest.raises(NoIdentifiers, match=r"77\.1"):
        node_keys(node.url, [], ["77.1"], warnings.append)
