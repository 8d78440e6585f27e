"""``idnode serve --workers 2`` serves a fresh node: authenticated writes over many
new connections (spread over both workers by SO_REUSEPORT), read back over UDP and
REST; SIGTERM stops every process of the pool (checked by the fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from protocol.constants import RC_SUCCESS
from registry.trust.keys import load_private_key
from resolver.core.client import HandleClient, PublicKeyAuth
from tests.resolver.core.test_cache import url
from tests.resolver.worker_pool import Pool, start_pool

WRITES = 24


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Pool]:
    started = start_pool(tmp_path, 2)
    assert started.workers() == 2
    yield started
    started.stop()


def test_every_worker_runs_on_uvloop(pool: Pool) -> None:
    assert pool.ready_line.rstrip().endswith("on uvloop: serving"), pool.ready_line


async def test_two_workers_serve_one_node(pool: Pool) -> None:
    key = load_private_key((pool.folder / "keys" / "admin_key.pem").read_bytes())
    auth = PublicKeyAuth("0.NA/88.118", 300, key)  # type: ignore[arg-type]
    client = HandleClient(timeout=5.0)
    target = ("127.0.0.1", pool.handle_port)
    names = [f"88.118/W-{i}" for i in range(WRITES)]
    for name in names:
        await client.create_handle(name, [url(1, f"https://w.example/{name}")],
                                   server=target, auth=auth)
    for name in names:
        answer = await client.resolve(name, server=target)
        assert answer.values[0].data == f"https://w.example/{name}".encode()
    last = f"http://127.0.0.1:{pool.http_port}/api/handles/{names[-1]}"
    async with aiohttp.ClientSession() as http, http.get(last) as got:
        assert (await got.json())["responseCode"] == RC_SUCCESS
