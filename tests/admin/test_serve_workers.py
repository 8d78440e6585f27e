"""``idnode serve --workers 2``: two processes on one port pair, one set of auth tables.

Authenticated writes arrive on many new connections, so with SO_REUSEPORT they
reach both workers; each must find the challenge the other issued.  Every
write is then read back over UDP and REST, and SIGTERM stops every process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
import pytest

from protocol.constants import RC_SUCCESS
from registry.trust.keys import load_private_key
from resolver.client import HandleClient, PublicKeyAuth
from tests.resolver.test_cache import url
from tests.resolver.test_e2e import REPO, free_port

WRITES = 24


@dataclass
class Pool:
    folder: Path
    handle_port: int
    http_port: int
    process: subprocess.Popen[str]


def idnode(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "admin.cli", "--data-dir", str(folder), *args]


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Pool]:
    handle_port, http_port = free_port(), free_port()
    subprocess.run(idnode(tmp_path, "init"), check=True, capture_output=True, cwd=REPO,
                   timeout=120)
    process = subprocess.Popen(
        idnode(tmp_path, "serve", "--workers", "2", "--handle-port", str(handle_port),
               "--http-port", str(http_port)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert process.stdout is not None
    assert "serving" in process.stdout.readline()
    children = psutil.Process(process.pid).children(recursive=True)
    assert sum("--worker-child" in " ".join(c.cmdline()) for c in children) == 1
    yield Pool(tmp_path, handle_port, http_port, process)
    process.terminate()
    process.communicate(timeout=30)
    assert process.returncode == 0
    _, alive = psutil.wait_procs(children, timeout=20)  # helpers exit once the parent has
    assert not alive


async def test_two_workers_share_ports_and_challenges(pool: Pool) -> None:
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
