"""A CLI write reaches a running ``idnode serve`` without Redis (as ``make run`` starts it).

The record's TTL is a day, so once the node has cached it only the change
feed (:mod:`registry.changes`, :mod:`resolver.core.change_feed`) can explain
the node answering the new value.  The test reads until the change shows, for
at most :data:`WAIT` seconds; it asserts no timing beyond that bound.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.conftest import idnode
from tests.resolver.worker_pool import Pool, start_pool

TV = "88.118/TV-0001"
WAIT = 5.0


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    """``idnode init`` + ``idnode serve`` in a subprocess, without Redis."""
    for name in [n for n in os.environ if n.startswith("IDNODE_REDIS")]:
        monkeypatch.delenv(name)
    pool = start_pool(tmp_path / "node", 1)
    yield pool
    pool.stop()


def rest_url(pool: Pool, handle: str) -> str | None:
    """The URL value the node's REST API answers for ``handle`` (None: not found)."""
    address = f"http://127.0.0.1:{pool.http_port}/api/handles/{handle}"
    try:
        with urllib.request.urlopen(address, timeout=5) as got:
            body = json.loads(got.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return str(next(v["data"]["value"] for v in body["values"] if v["type"] == "URL"))


def cli(pool: Pool, *args: str) -> None:
    result = idnode(pool.folder, *args)
    assert (result.returncode, result.stderr) == (0, ""), result


def eventually(pool: Pool, handle: str, expected: str | None) -> None:
    deadline = time.monotonic() + WAIT
    while (seen := rest_url(pool, handle)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == expected


def test_cli_writes_reach_the_running_node_without_redis(served: Pool) -> None:
    cli(served, "handle", "create", TV, "--value", "1:URL:https://old")
    assert rest_url(served, TV) == "https://old"
    assert rest_url(served, TV) == "https://old"  # cached for the values' TTL (a day)
    cli(served, "handle", "set", TV, "--value", "1:URL:https://new")
    eventually(served, TV, "https://new")
    cli(served, "handle", "delete", TV)
    eventually(served, TV, None)


def test_an_import_reaches_a_cached_not_found(served: Pool, tmp_path: Path) -> None:
    fresh = "88.118/TV-0002"
    assert rest_url(served, fresh) is None  # a cached "not found"
    source = tmp_path / "fresh.csv"
    source.write_text(f"handle,index,type,data\n{fresh},1,URL,https://fresh\n", encoding="utf-8")
    cli(served, "import", str(source), "--quiet")
    eventually(served, fresh, "https://fresh")
