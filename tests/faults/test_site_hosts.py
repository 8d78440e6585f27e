"""Two hosts, one site: two ``idnode serve`` on 127.0.0.2 and 127.0.0.3 behind one HS_SITE.

Both serve the same PostgreSQL schema and Redis (a unique key prefix), from
data dirs of their own (the second a copy of the first's keys and settings),
on the same ports, with ``site_servers = 127.0.0.2,127.0.0.3``.  The published
HS_SITE lists both; idnode's client sends each handle to the server the site's
hash names (RFC 3652), a write on one host is seen on the other, and with
one host killed every request is answered by the other.  Times are printed
(``pytest -s``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import soak
from benchmarks.soak import ADMIN, PREFIX, generation_of, record_values
from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.server_select import server_index
from protocol.site_info import SiteInfo, decode_site_info
from registry.names import prefix_handle
from registry.store import HandleStore
from resolver.core.client import HandleClient
from tests._services import PgDatabase
from tests.faults._node import seed

HOSTS = ("127.0.0.2", "127.0.0.3")
NAMES = [f"{PREFIX}/hot-{i}" for i in range(soak.HOT)]
SEEN_WITHIN = 10.0  # a liveness deadline, not a measurement: the bound is ~0.25 s


def _free_on_both() -> int:
    """A port free on both loopback addresses (TCP and UDP)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((HOSTS[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for host in HOSTS:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as sock:
                        sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on both loopback addresses")


@pytest.fixture
def two_hosts(pg_url: PgDatabase, redis_url: str, redis_prefix: str, tmp_path: Path
              ) -> Iterator[dict[str, dict[str, str]]]:
    """The settings (``IDNODE_*``) of both hosts; the first is initialised."""
    shared = {
        "IDNODE_DATABASE_URL": pg_url.url, "IDNODE_DATABASE_SCHEMA": pg_url.schema,
        "IDNODE_REDIS_URL": redis_url, "IDNODE_REDIS_PREFIX": redis_prefix,
        "IDNODE_SITE_SERVERS": ",".join(HOSTS), "IDNODE_SITE_MIRRORS": "true",
        "IDNODE_HANDLE_PORT": str(_free_on_both()), "IDNODE_HTTP_PORT": str(_free_on_both()),
    }
    hosts = {host: {**shared, "IDNODE_PUBLIC_HOST": host, "IDNODE_LISTEN_HOSTS": host}
             for host in HOSTS}
    first = tmp_path / "host-a"
    init = subprocess.run(
        [*_cli(first), "init"], env={**os.environ, **hosts[HOSTS[0]]}, capture_output=True,
        text=True, timeout=120, check=False, cwd=soak.REPO)
    assert init.returncode == 0, init.stderr
    shutil.copytree(first, tmp_path / "host-b")  # the same server key and settings
    yield hosts


def _cli(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir)]


async def _published_sites(pg_url: PgDatabase) -> list[SiteInfo]:
    """The HS_SITE values of the node's prefix handle, by index."""
    store = await HandleStore.open(pg_url.url, schema=pg_url.schema, migrate=False)
    try:
        record = await store.get_handle(prefix_handle("88.118"))
    finally:
        await store.close()
    assert record is not None
    return [decode_site_info(v.data) for v in record.values if v.type == "HS_SITE"]


async def test_two_hosts_share_one_site(
    two_hosts: dict[str, dict[str, str]], pg_url: PgDatabase, tmp_path: Path,
) -> None:
    await seed(pg_url.url, pg_url.schema)
    processes: dict[str, subprocess.Popen[str]] = {}
    port = int(two_hosts[HOSTS[0]]["IDNODE_HANDLE_PORT"])
    http_port = int(two_hosts[HOSTS[0]]["IDNODE_HTTP_PORT"])
    try:
        logs = [(tmp_path / f"{host}.log").open("a") for host in HOSTS]
        started = await asyncio.gather(*(
            asyncio.to_thread(soak.start_node, tmp_path / folder, two_hosts[host],
                              handle_port=port, http_port=http_port, log=log)
            for host, folder, log in zip(HOSTS, ("host-a", "host-b"), logs, strict=True)))
        for log in logs:
            log.close()
        processes = {host: one[0] for host, one in zip(HOSTS, started, strict=True)}
        client = HandleClient(timeout=2.0, attempts=1)
        site = await client.get_site_info(server=(HOSTS[1], port))
        assert [s.ip for s in site.servers] == list(HOSTS)
        published = await _published_sites(pg_url)  # the site, then one mirror per host
        assert [[s.ip for s in site.servers] for site in published] == [
            list(HOSTS), [HOSTS[0]], [HOSTS[1]]]
        assert [site.is_primary for site in published] == [True, False, False]

        # each handle goes to the server the site's hash names
        used = set()
        for name in NAMES:
            res = await client.resolve(name, server=site)
            assert res.response_code == RC_SUCCESS
            expected = HOSTS[server_index(name, site.hash_option, len(HOSTS))]
            assert res.source.startswith(expected + ":"), (name, res.source, expected)
            used.add(expected)
        assert used == set(HOSTS)

        # a write on one host is seen on the other (its cached answers are dropped)
        name = NAMES[0]
        reader = (HOSTS[1], port)
        assert generation_of((await client.resolve(name, server=reader)).values) == 0
        fresh = f"{PREFIX}/written-on-a"
        missing = await client.resolve(fresh, server=reader)
        assert missing.response_code == RC_HANDLE_NOT_FOUND  # now cached as absent
        writes = HandleClient(timeout=5.0, attempts=1, udp=False)
        await writes.create_handle(name, record_values(name, 1), server=(HOSTS[0], port),
                                   auth=ADMIN, overwrite=True)
        await writes.create_handle(fresh, record_values(fresh, 1), server=(HOSTS[0], port),
                                   auth=ADMIN)
        written = time.monotonic()  # both writes acknowledged
        while True:
            changed = await client.resolve(name, server=reader)
            created = await client.resolve(fresh, server=reader)
            if generation_of(changed.values) == 1 and created.response_code == RC_SUCCESS:
                break
            assert time.monotonic() - written < SEEN_WITHIN, "the other host never saw it"
            await asyncio.sleep(0.01)
        seen = time.monotonic() - written

        # one host killed: the client fails over to the other for every handle
        processes[HOSTS[0]].kill()
        processes[HOSTS[0]].wait(10)
        slowest = 0.0
        for name in NAMES:
            started = time.monotonic()
            res = await client.resolve(name, server=site)
            slowest = max(slowest, time.monotonic() - started)
            assert res.response_code == RC_SUCCESS
            assert res.source.startswith(HOSTS[1] + ":"), res.source
        print(f"two hosts: write on {HOSTS[0]} seen on {HOSTS[1]} after {seen * 1000:.0f} ms; "
              f"with {HOSTS[0]} killed the slowest resolution took {slowest * 1000:.0f} ms")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
