"""The write benchmark's clients against a real node: creates in a Handle session and in a
REST session stored what they said, imports of demo JSON Lines and plain CSV all stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import writes
from benchmarks.processes import run_idnode
from tests.benchmarks.serving import serving


@dataclass
class Node:
    folder: Path
    http_port: int
    handle_port: int
    writer: writes.Credentials


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    folder = tmp_path_factory.mktemp("write-node")
    run_idnode(folder, "init", "--prefix", "88.118", "--demo", "--demo-products", "0")
    writer = writes.Credentials.of_enterprise(folder, "HAIYUE", "88.118.8", {})
    env = {"IDNODE_RATE_LIMIT": "0", "IDNODE_HTTP_INSECURE_AUTH": "true"}
    with serving(folder, env, "--dns-port", "0") as (http_port, handle_port):
        yield Node(folder, http_port, handle_port, writer)


def _stored(node: Node, handle: str) -> str:
    return run_idnode(node.folder, "handle", "get", handle, "--json")


def test_creates_in_a_handle_session(node: Node) -> None:
    handles = writes.names(node.writer, "hdl", 5)
    run = asyncio.run(writes.handle_creates(node.handle_port, node.writer, handles))
    assert (len(run.latencies), run.errors) == (5, 0), run.first_error
    assert f"https://example.com/{handles[-1]}" in _stored(node, handles[-1])
    again = asyncio.run(writes.handle_creates(node.handle_port, node.writer, handles[:1]))
    assert again.errors == 1 and "ALREADY EXISTS" in again.first_error


def test_creates_in_a_rest_session(node: Node) -> None:
    handles = writes.names(node.writer, "rest", 5)
    run = asyncio.run(writes.rest_creates(node.http_port, node.writer, handles))
    assert (len(run.latencies), run.errors) == (5, 0), run.first_error
    assert "0.NA/88.118.8" in _stored(node, handles[0])  # the HS_ADMIN sent


def test_imports_of_demo_records_and_plain_csv(tmp_path: Path) -> None:
    folder = tmp_path / "node"
    run_idnode(folder, "init", "--prefix", "88.118", "--demo", "--demo-products", "0")
    records = writes.demo_jsonl(tmp_path / "demo.jsonl", 3, "http://127.0.0.1/{handle}")
    demo = writes.run_import(folder, tmp_path / "demo.jsonl", {})
    assert (demo.rows, demo.rejected) == (records, 0) and demo.rate > 0
    rows = writes.plain_csv(tmp_path / "plain.csv", 10, "88.118.8")
    plain = writes.run_import(folder, tmp_path / "plain.csv", {})
    assert (plain.rows, plain.rejected) == (rows, 0)
    assert "support@example.com" in run_idnode(folder, "handle", "get", "88.118.8/CSV-00000004",
                                               "--json")
