"""A second node on the same machine: a taken port is one line and exit 2, a node served
on other ports than at ``init`` publishes them in its HS_SITE values, and ``status`` tells
this node from another one answering on its ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from protocol.rest_json import site_from_json, value_to_json
from resolver.core.site import build_site_info, site_info_value
from tests.admin.conftest import REPO, Node, idnode
from tests.admin.test_resolve_cli import free_port

START_TIMEOUT = 60


def _serve_command(node: Node, handle_port: int, http_port: int) -> list[str]:
    return [sys.executable, "-m", "admin.cli", "--data-dir", str(node.data_dir), "serve",
            "--handle-port", str(handle_port), "--http-port", str(http_port), "--dns-port", "0"]


@contextmanager
def serving(node: Node, handle_port: int, http_port: int) -> Iterator[None]:
    """``idnode serve`` for ``node`` on the given ports until the block ends."""
    process = subprocess.Popen(_serve_command(node, handle_port, http_port), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving" in line, (line, process.stderr.read() if process.stderr else "")
        yield
    finally:
        process.terminate()
        process.wait(START_TIMEOUT)


def status(node: Node, handle_port: int, http_port: int) -> subprocess.CompletedProcess[str]:
    """``idnode --json status`` of ``node`` configured for these ports."""
    env = {**os.environ, "IDNODE_HANDLE_PORT": str(handle_port),
           "IDNODE_HTTP_PORT": str(http_port)}
    return subprocess.run(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(node.data_dir), "--json",
         "status"], capture_output=True, text=True, timeout=120, check=False, cwd=REPO, env=env)


def published_ports(node: Node, handle: str) -> tuple[int, set[int], int]:
    """The serial number, the ports and the server count of the HS_SITE in ``handle``."""
    record = node.json("handle", "get", handle, "--type", "HS_SITE")
    site = site_from_json(record["values"][0]["data"]["value"])
    ports = {itf.port for server in site.servers for itf in server.interfaces}
    return site.serial_number, ports, len(site.servers)


@pytest.mark.parametrize("taken", ["handle", "http"])
def test_a_taken_port_is_one_line_naming_it_and_exit_2(node: Node, taken: str) -> None:
    handle_port, http_port = free_port(), free_port()
    port = handle_port if taken == "handle" else http_port
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(_serve_command(node, handle_port, http_port), cwd=REPO,
                                capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result
    front_end = "Handle protocol (TCP+UDP)" if taken == "handle" else "HTTP"
    assert result.stderr.splitlines() == [
        f"idnode: {front_end} port {port} is already in use on 127.0.0.1 (another idnode or "
        f"program); choose another with --{taken}-port or {taken}_port in idnode.toml"]


def test_new_ports_reach_the_published_sites_and_status_knows_its_node(
    node: Node, tmp_path: Path
) -> None:
    assert published_ports(node, "0.NA/88.118") == (1, {2641, 8000}, 1)  # as init wrote it
    handle_port, http_port = free_port(), free_port()
    with serving(node, handle_port, http_port):
        answer = status(node, handle_port, http_port)
        assert answer.returncode == 0, answer
        shown = json.loads(answer.stdout)
        assert shown["handle_server"] == f"127.0.0.1:{handle_port} this node"
        assert shown["http_server"] == f"127.0.0.1:{http_port} this node"

        # a copy of the node with another server key is told the one answering is not it
        impostor = Node(tmp_path / "impostor")
        shutil.copytree(node.data_dir, impostor.data_dir)
        other = idnode(tmp_path / "other", "init", "--prefix", "88.119")
        assert other.returncode == 0, other.stderr
        for name in ("server_pubkey.bin", "server_key.pem"):
            shutil.copy(tmp_path / "other" / "keys" / name, impostor.data_dir / "keys" / name)
        answer = status(impostor, handle_port, http_port)
        assert answer.returncode == 1
        assert json.loads(answer.stdout)["handle_server"].endswith(
            "another server: its server key is not this node's")
        # a node with another prefix is told the server does not hold its prefix
        answer = status(Node(tmp_path / "other"), handle_port, http_port)
        assert answer.returncode == 1
        shown = json.loads(answer.stdout)
        assert shown["handle_server"].endswith("another server: it does not hold 0.NA/88.119")
        assert shown["http_server"].endswith("another server: it does not hold 0.NA/88.119")
    for handle in ("0.NA/88.118", "0.NA/88.118.8"):  # the node's own and a hosted enterprise's
        assert published_ports(node, handle) == (2, {handle_port, http_port}, 1), handle
    with serving(node, handle_port, http_port):  # in step now: nothing rewritten again
        pass
    assert published_ports(node, "0.NA/88.118")[0] == 2


def test_status_without_servers_says_not_reachable(node: Node) -> None:
    answer = status(node, free_port(), free_port())
    assert answer.returncode == 0
    shown = json.loads(answer.stdout)
    assert shown["handle_server"].endswith(" not reachable")
    assert shown["http_server"].endswith(" not reachable")


def test_a_hand_made_site_without_this_server_stops_serve(node: Node, tmp_path: Path) -> None:
    site = build_site_info([("10.0.0.1", 2641), ("10.0.0.2", 2641)], http_port=8000)
    values = tmp_path / "site.json"
    values.write_text(json.dumps([value_to_json(site_info_value(site, index=1))]))
    node.run("handle", "set", "0.NA/88.118", "--from-json", str(values))
    result = subprocess.run(_serve_command(node, free_port(), free_port()), cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result
    assert result.stderr.startswith(
        "idnode: the HS_SITE of 0.NA/88.118 lists 2 servers and none is this one "), result
    assert len(result.stderr.splitlines()) == 1
