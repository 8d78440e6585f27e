"""End to end: three ``idnode serve`` processes on loopback, a root, this node, an enterprise.

* root: ``--role root``, prefix 88;
* node: prefix 88.118, registered at the root with ``idnode root register``;
  hosts 88.118.8 (``88.118.8/TV-0001``) and delegates 88.118.9;
* enterprise: another idnode, prefix 88.118.9, holding ``88.118.9/PUMP-1``.

Data dirs are made with ``idnode init``; the handles are written into each
SQLite registry before its server starts.  Questions go over the Handle
protocol and the REST API.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol.constants import (
    RC_HANDLE_NOT_FOUND,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    TYPE_HS_SITE,
)
from protocol.site_info import decode_site_info
from registry.bootstrap import delegate_prefix, ensure_node_identity
from registry.names import prefix_handle
from registry.store import HandleStore
from resolver.core.client import HandleClient
from resolver.core.site import build_site_info, site_info_value
from tests.loopback import allow_loopback_upstream
from tests.resolver.core.test_cache import url

REPO = Path(__file__).resolve().parents[2]
TV = "88.118.8/TV-0001"
PUMP = "88.118.9/PUMP-1"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """One node's data dir and ports, and its ``idnode serve`` process once started."""

    name: str
    folder: Path
    prefix: str
    role: str
    handle_port: int
    http_port: int
    process: subprocess.Popen[str] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.handle_port

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.handle_port}"

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "admin.cli", "--data-dir", str(self.folder), *args]

    def run(self, *args: str, expect: int = 0) -> dict[str, Any]:
        """Run an ``idnode --json`` command; its JSON output, or its stderr line on failure."""
        result = subprocess.run(self.cli("--json", *args), capture_output=True, text=True,
                                timeout=120, check=False, cwd=REPO)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        if expect:
            return {"error": result.stderr.strip()}
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    def site(self) -> Any:
        return site_info_value(build_site_info([self.address], http_port=self.http_port))


def init_all(procs: list[Proc]) -> None:
    """``idnode init`` for every node, in parallel (each makes two RSA keys)."""
    running = [
        subprocess.Popen(
            p.cli("init", "--prefix", p.prefix, "--public-host", "127.0.0.1",
                  "--handle-port", str(p.handle_port), "--http-port", str(p.http_port)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        for p in procs
    ]
    for proc in running:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out, err)
    for p in procs:
        allow_loopback_upstream(p.folder)


async def write(proc: Proc, *steps: tuple[str, Any]) -> None:
    """Write handles (``("handle", (name, values))``) and prefixes into a node's registry."""
    store = await HandleStore.open(f"sqlite:///{proc.folder / 'registry.db'}")
    try:
        for kind, arg in steps:
            if kind == "prefix":
                await ensure_node_identity(store, arg, site=proc.site(), admin_pubkey=b"",
                                           actor="test")
            elif kind == "delegate":
                prefix, target = arg
                await delegate_prefix(store, prefix, target.site(), node_prefix=proc.prefix,
                                      owner=None, actor="test")
            else:
                name, values = arg
                await store.replace_handle(name, values, actor="test")
    finally:
        await store.close()


def serve(proc: Proc, root: Proc | None) -> None:
    args = ["serve", "--role", proc.role, "--handle-port", str(proc.handle_port),
            "--http-port", str(proc.http_port), "--dns-port", "0"]
    if root is not None:
        args += ["--root-address", root.endpoint]
    proc.process = subprocess.Popen(
        proc.cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def serve_all(root: Proc, *others: Proc) -> None:
    """Serve ``root`` and the ``others`` (recursing from ``root``) until they are ready."""
    serve(root, None)
    for proc in others:
        serve(proc, root)
    for proc in (root, *others):
        wait_ready(proc)


def wait_ready(proc: Proc) -> None:
    """Wait for the ``... serving`` line (the servers listen then)."""
    assert proc.process is not None and proc.process.stdout is not None
    line = proc.process.stdout.readline()
    if "serving" not in line:
        proc.process.kill()
        _, err = proc.process.communicate(timeout=10)
        pytest.fail(f"{proc.name} did not start: {line!r} {err[-2000:]}")


def stop(procs: list[Proc]) -> None:
    """SIGTERM every server, then wait for each (SIGKILL if it hangs)."""
    running = [p.process for p in procs if p.process is not None and p.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proc]]:
    folder = tmp_path_factory.mktemp("e2e")
    procs = {
        name: Proc(name, folder / name, prefix, role, free_port(), free_port())
        for name, prefix, role in (
            ("root", "88", "root"), ("node", "88.118", "node"), ("enterprise", "88.118.9", "node")
        )
    }
    root, node, enterprise = procs["root"], procs["node"], procs["enterprise"]
    init_all(list(procs.values()))
    asyncio.run(write(node, ("prefix", "88.118.8"), ("handle", (TV, [url(1, "tv")])),
                      ("delegate", ("88.118.9", enterprise))))
    asyncio.run(write(enterprise, ("handle", (PUMP, [url(1, "pump")]))))
    try:
        serve_all(root, node, enterprise)
        yield procs
    finally:
        stop(list(procs.values()))


@pytest.fixture(scope="module")
def registered(world: dict[str, Proc]) -> dict[str, Any]:
    """The node registered at the root: first as the root's admin, then as itself."""
    root, node = world["root"], world["node"]
    refused = node.run("root", "register", "--root-address", root.endpoint, expect=1)
    assert "AUTHENTICATION" in refused["error"] or "PERMISSIONS" in refused["error"]
    first = node.run("root", "register", "--root-address", root.endpoint,
                     "--admin", "300:0.NA/88", "--key", str(root.folder / "keys/admin_key.pem"))
    assert first["action"] == "created" and first["site_serial"] == 1
    again = node.run("root", "register", "--root-address", root.endpoint,
                     "--server", node.endpoint, "--server", f"127.0.0.2:{node.handle_port}")
    assert again["action"] == "updated" and again["site_serial"] == 2
    return again


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def rest(http: aiohttp.ClientSession, proc: Proc, handle: str) -> tuple[int, Any]:
    async with http.get(f"http://127.0.0.1:{proc.http_port}/api/handles/{handle}") as response:
        return response.status, await response.json()


async def test_the_root_holds_the_registered_prefix_handle(
    world: dict[str, Proc], registered: dict[str, Any]
) -> None:
    res = await HandleClient(timeout=5).resolve(
        prefix_handle("88.118"), [TYPE_HS_SITE], server=world["root"].address
    )
    site = decode_site_info(res.values[0].data)
    assert site.serial_number == registered["site_serial"] == 2
    assert [s.ip for s in site.servers] == ["127.0.0.1", "127.0.0.2"]


async def test_handle_protocol_hosted_delegated_missing(
    world: dict[str, Proc], registered: dict[str, Any]
) -> None:
    node, enterprise, root = world["node"], world["enterprise"], world["root"]
    client = HandleClient(timeout=5)
    hosted = await client.resolve(TV, server=node.address)
    assert hosted.response_code == RC_SUCCESS and hosted.values[0].data == b"tv"
    referral = await client.resolve(PUMP, server=node.address, recursive=False)
    assert referral.response_code == RC_SERVICE_REFERRAL
    assert [v.data for v in referral.referral_values] == [enterprise.site().data]
    delegated = await client.resolve(PUMP, server=node.address)
    assert delegated.response_code == RC_SUCCESS and delegated.values[0].data == b"pump"
    missing = await client.resolve("88.118.8/NOPE", server=node.address)
    assert missing.response_code == RC_HANDLE_NOT_FOUND
    via_root = await client.resolve(PUMP, server=root.address)
    assert via_root.response_code == RC_SUCCESS and via_root.values[0].data == b"pump"
    gone = await client.resolve("88.118.9/NOPE", server=root.address)
    assert gone.response_code == RC_HANDLE_NOT_FOUND


async def test_rest_hosted_delegated_missing(
    world: dict[str, Proc], registered: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    node, root = world["node"], world["root"]
    status, body = await rest(http, node, TV)
    assert status == 200 and body["responseCode"] == RC_SUCCESS
    for proc in (node, root):
        status, body = await rest(http, proc, PUMP)
        assert status == 200 and body["responseCode"] == RC_SUCCESS, (proc.name, body)
        assert body["values"][0]["data"]["value"] == "pump"
    status, body = await rest(http, node, "88.118.8/NOPE")
    assert status == 404 and body["responseCode"] == RC_HANDLE_NOT_FOUND
