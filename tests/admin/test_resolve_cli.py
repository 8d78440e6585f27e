"""``idnode resolve`` here, at a server, across a delegation; issued credentials at work."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from protocol.values import HandleValue
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from tests.admin.conftest import REPO, Node
from tests.loopback import allow_loopback_upstream

START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(node: Node) -> Iterator[int]:
    """``idnode serve`` for ``node`` on fresh ports; yields the Handle port."""
    port = free_port()
    command = [sys.executable, "-m", "admin.cli", "--data-dir", str(node.data_dir), "serve",
               "--handle-port", str(port), "--http-port", str(free_port()), "--dns-port", "0"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving" in line, line
        yield port
    finally:
        process.terminate()
        process.wait(START_TIMEOUT)


async def _create(port: int, handle: str, auth: SecretKeyAuth) -> None:
    value = HandleValue(index=1, type="URL", data=b"https://acme.example/remote")
    await HandleClient().create_handle(handle, [value], server=("127.0.0.1", port), auth=auth)


def test_resolve_at_a_server_and_across_a_delegation(node: Node, tmp_path: Path) -> None:
    enterprise = Node(tmp_path / "enterprise")
    enterprise.run("init", "--prefix", "88.118.60")
    enterprise.run("handle", "create", "88.118.60/FL-1", "--value", "1:URL:https://fl.example/1")
    node.run("handle", "create", "88.118.8/S-1", "--value", "1:URL:https://s.example/1")
    allow_loopback_upstream(node.data_dir)  # the enterprise serves on loopback
    with serving(enterprise) as enterprise_port, serving(node) as node_port:
        node.run("prefix", "delegate", "88.118.60", "--server", f"127.0.0.1:{enterprise_port}")

        local = node.json("resolve", "88.118.8/S-1")
        assert local["values"][0]["data"]["value"] == "https://s.example/1"
        remote = node.json("resolve", "88.118.8/S-1", "--server", f"127.0.0.1:{node_port}")
        assert remote["response"] == "SUCCESS"
        assert remote["values"] == local["values"]

        referral = node.json("resolve", "88.118.60/FL-1", expect=1)
        assert referral["response"] == "SERVICE REFERRAL" and referral["referral"]
        followed = node.json("resolve", "88.118.60/FL-1", "--recursive")
        assert followed["values"][0]["data"]["value"] == "https://fl.example/1"
        assert str(enterprise_port) in followed["source"]
        via_server = node.json("resolve", "88.118.60/FL-1", "--recursive",
                               "--server", f"127.0.0.1:{node_port}")
        assert via_server["values"] == followed["values"]

        missing = node.json("resolve", "88.118.8/NONE", "--server", f"127.0.0.1:{node_port}",
                            expect=1)
        assert missing["response"] == "HANDLE NOT FOUND"

        # The enterprise's issued secret key administers its prefix over the Handle protocol.
        secret = node.json("enterprise", "credentials", "ACME")["secret_key"]
        auth = SecretKeyAuth("0.NA/88.118.8", 300, secret.encode())
        asyncio.run(_create(node_port, "88.118.8/BY-ACME", auth))
        assert node.json("handle", "get", "88.118.8/BY-ACME")["values"][0]["type"] == "URL"
        wrong = SecretKeyAuth("0.NA/88.118.8", 300, b"not the secret")
        with pytest.raises(HandleClientError):
            asyncio.run(_create(node_port, "88.118.8/BY-MALLORY", wrong))
    down = node.run("resolve", "88.118.8/S-1", "--server", f"127.0.0.1:{node_port}", expect=3)
    assert down.stderr.startswith("idnode: no answer from")
