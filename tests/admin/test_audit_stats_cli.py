"""``idnode audit`` (tamper detection), ``handle``/``resolve`` editing and ``stats``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from registry.stats_report import METRIC_CACHE_HITS, METRIC_CACHE_MISSES, METRIC_RESOLUTIONS
from registry.store import HandleStore
from tests.admin.conftest import Node


def test_handle_editing_resolve_and_audit_trail(node: Node, tmp_path: Path) -> None:
    name = "88.118.8/TV-0001"
    node.run("handle", "create", name, "--value", "1:URL:https://tv.example/1",
             "--value", "2:EMAIL:care@tv.example")
    node.run("handle", "set", name, "--value", "1:URL:https://tv.example/one", "--remove", "2")
    values = tmp_path / "values.json"
    values.write_text(json.dumps([{"index": 3, "type": "DESC",
                                   "data": {"format": "string", "value": "55-inch TV"}}]))
    record = node.json("handle", "set", name, "--from-json", str(values))
    assert [(v["index"], v["type"]) for v in record["values"]] == [
        (1, "URL"), (3, "DESC"), (100, "HS_ADMIN")]  # ACME's admin, added on create
    assert record["values"][1]["data"]["value"] == "55-inch TV"
    assert record["version"] == 3

    answer = node.json("resolve", name, "--type", "URL")
    assert answer["response"] == "SUCCESS"
    assert [v["index"] for v in answer["values"]] == [1]
    assert node.json("resolve", "88.118.8/MISSING", expect=1)["response_code"] == 100
    assert node.json("handle", "list", "88.118.8")["handles"] == [name]

    trail = node.json("audit", "show", "--handle", name)
    assert [e["action"] for e in trail] == ["create", "replace", "replace"]
    node.run("handle", "delete", name)
    assert node.json("audit", "show", "--limit", "1")[0]["action"] == "delete"
    node.run("handle", "get", name, expect=1)


def test_audit_verify_detects_a_row_edited_in_the_database(node: Node) -> None:
    node.run("handle", "create", "88.118.8/A-1", "--value", "1:URL:https://a.example/1")
    intact = node.json("audit", "verify")
    assert intact["ok"] and intact["rows_checked"] >= 3
    with sqlite3.connect(node.db) as db:
        seq = db.execute("SELECT seq FROM audit_log WHERE handle = '88.118.8/A-1'").fetchone()[0]
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (seq,))
    broken = node.run("audit", "verify", expect=1)
    assert f"BROKEN at entry {seq}" in broken.stdout
    assert node.json("audit", "verify", expect=1)["first_bad_seq"] == seq


async def _count_usage(db: Path) -> None:
    store = await HandleStore.open(str(db), migrate=False)
    try:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        await store.bump_counters([
            (METRIC_RESOLUTIONS, "", hour, 40), (METRIC_RESOLUTIONS, "88.118.8", hour, 40),
            (METRIC_CACHE_HITS, "", hour, 30), (METRIC_CACHE_MISSES, "", hour, 10),
        ])
    finally:
        await store.close()


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def upper_node() -> Iterator[tuple[str, list[bytes]]]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    received: list[bytes] = []
    _Collector.received = received
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stats", received
    server.shutdown()
    server.server_close()


def test_stats_and_upward_report(
    node: Node, tmp_path: Path, upper_node: tuple[str, list[bytes]]
) -> None:
    node.run("handle", "create", "88.118.8/S-1", "--value", "1:URL:https://s.example/1")
    asyncio.run(_count_usage(node.db))
    stats = node.json("stats")
    assert stats["identifiers"]["by_enterprise"][0]["count"] == 1
    assert stats["resolutions"]["total"] == 40
    assert stats["cache"]["ratio"] == 0.75
    assert "cache hit ratio  75.0%" in node.run("stats").stdout

    target = tmp_path / "report.json"
    node.run("stats", "report", "--upper", str(target))
    report = json.loads(target.read_text())
    assert report["format"] == "idnode-stats-report/1"
    assert report["node_prefix"] == "88.118"
    assert {"prefix": "88.118.8", "count": 40} in report["resolutions"]["by_prefix"]

    url, received = upper_node
    node.run("stats", "report", "--upper", url)
    assert json.loads(received[0])["identifiers"]["total"] == report["identifiers"]["total"]
    refused = node.run("stats", "report", "--upper", "http://127.0.0.1:1/none", expect=3)
    assert refused.stderr.startswith("idnode: cannot send")
