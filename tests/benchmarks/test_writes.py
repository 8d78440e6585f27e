"""The write benchmark's clients against a real node: creates in a Handle session (on one
kept connection, and across connections when the server ends each after its answer, as
CNRI's does) and in a REST session (over http, and https with a self-signed certificate before it)
stored what they said, imports of demo JSON Lines and plain CSV all stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from admin.commands.bulk import default_jobs
from benchmarks import writes
from benchmarks.processes import BenchError, run_idnode
from tests.benchmarks.one_answer import OneAnswerFront
from tests.benchmarks.serving import serving
from tests.benchmarks.tls_front import tls_front


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
    run = asyncio.run(writes.handle_creates("127.0.0.1", node.handle_port, node.writer,
                                            handles))
    assert (len(run.latencies), run.errors) == (5, 0), run.first_error
    assert run.connections == 1  # the node keeps the connection open
    assert f"https://example.com/{handles[-1]}" in _stored(node, handles[-1])
    again = asyncio.run(writes.handle_creates("127.0.0.1", node.handle_port, node.writer,
                                              handles[:1]))
    assert again.errors == 1 and "ALREADY EXISTS" in again.first_error


def _through_front(node: Node, mode: str, handles: list[str]
                   ) -> tuple[OneAnswerFront, writes.WriteRun]:
    async def go() -> tuple[OneAnswerFront, writes.WriteRun]:
        async with OneAnswerFront(node.handle_port, mode).running() as front:
            run = await writes.handle_creates("127.0.0.1", front.port, node.writer, handles)
        return front, run
    return asyncio.run(go())


def test_a_session_outlives_connections_the_server_closes_after_each_answer(
        node: Node) -> None:
    handles = writes.names(node.writer, "close", 4)
    front, run = _through_front(node, "close", handles)
    assert (len(run.latencies), run.errors) == (4, 0), run.first_error
    # setup, the first create, its challenge's answer, then one create per message:
    # every message on a new connection, in the one session authenticated once
    assert run.connections == front.answered == len(handles) + 2
    for handle in handles:
        assert f"https://example.com/{handle}" in _stored(node, handle)


def test_a_message_the_server_closed_on_unread_goes_again_on_a_new_connection(
        node: Node) -> None:
    handles = writes.names(node.writer, "drop", 4)
    front, run = _through_front(node, "drop", handles)
    # each message after the first on a kept connection was dropped unread, then sent
    # again once, on a new connection (no create twice: no ALREADY EXISTS)
    assert (len(run.latencies), run.errors) == (4, 0), run.first_error
    assert front.dropped == len(handles) + 1
    assert run.connections == front.answered == len(handles) + 2
    assert f"https://example.com/{handles[-1]}" in _stored(node, handles[-1])


def test_a_new_connection_closed_unanswered_is_an_error(node: Node) -> None:
    with pytest.raises(BenchError, match=r"127\.0\.0\.1:\d+ closed a new connection"):
        _through_front(node, "mute", writes.names(node.writer, "mute", 1))


def test_creates_in_a_rest_session(node: Node) -> None:
    handles = writes.names(node.writer, "rest", 5)
    run = asyncio.run(writes.rest_creates(f"http://127.0.0.1:{node.http_port}", node.writer,
                                          handles))
    assert (len(run.latencies), run.errors) == (5, 0), run.first_error
    assert "0.NA/88.118.8" in _stored(node, handles[0])  # the HS_ADMIN sent


def test_rest_creates_over_https_take_a_self_signed_certificate_only_when_told(
        node: Node, tmp_path: Path) -> None:
    handles = writes.names(node.writer, "tls", 3)

    async def go() -> writes.WriteRun:
        async with tls_front(node.http_port, tmp_path) as port:
            url = f"https://127.0.0.1:{port}"
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await writes.rest_creates(url, node.writer, handles)
            return await writes.rest_creates(url, node.writer, handles, verify_tls=False)

    run = asyncio.run(go())
    assert (len(run.latencies), run.errors) == (3, 0), run.first_error
    assert f"https://example.com/{handles[-1]}" in _stored(node, handles[-1])


def test_imports_of_demo_records_and_plain_csv(tmp_path: Path) -> None:
    folder = tmp_path / "node"
    run_idnode(folder, "init", "--prefix", "88.118", "--demo", "--demo-products", "0")
    records = writes.demo_jsonl(tmp_path / "demo.jsonl", 3, "http://127.0.0.1/{handle}")
    demo = writes.run_import(folder, tmp_path / "demo.jsonl", {})
    assert (demo.rows, demo.rejected) == (records, 0) and demo.rate > 0
    assert demo.cpu_seconds > 0  # the import's own CPU time, for runs on a shared machine
    rows = writes.plain_csv(tmp_path / "plain.csv", 10, "88.118.8")
    plain = writes.run_import(folder, tmp_path / "plain.csv", {})
    assert (plain.rows, plain.rejected) == (rows, 0)
    assert demo.processes == plain.processes == 1  # files this small: one process
    writes.plain_csv(tmp_path / "many.csv", 2400, "88.118.8")
    # one process for every 1,000 rows, at most one a core (idnode import --jobs)
    assert writes.run_import(folder, tmp_path / "many.csv", {}).processes == min(
        2, default_jobs())
    assert "support@example.com" in run_idnode(folder, "handle", "get", "88.118.8/CSV-00000004",
                                               "--json")
