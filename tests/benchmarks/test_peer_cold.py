"""``python -m benchmarks.run --profiles cold --peer-cold ...`` end to end, with another real
node as the cold peer.  Its ``--peer-cold-restart`` command is what starts it, so the bench
has to wait for it to answer before measuring; its run is then target "peer", profile
"cold", over Handle UDP, each listed handle asked at most once, with its CPU time read, and
compared with the node's in the goals.  No figure is asserted."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.loader import init_node
from benchmarks.peer_cold import ColdPeer, cold_peer_from_args
from benchmarks.processes import idnode_argv
from benchmarks.run import parse_plan
from tests.resolver.test_e2e import free_port

ROOT = Path(__file__).resolve().parents[2]


def _cold_peer(argv: list[str]) -> ColdPeer | None:
    _, args = parse_plan(argv)
    return cold_peer_from_args(args)


def test_cold_peer_options_and_those_at_fault_are_named(tmp_path: Path) -> None:
    listed = tmp_path / "handles.txt"
    listed.write_text("9999/A\n\n9999/B\n", encoding="utf-8")
    peer = _cold_peer(["--peer-cold", "127.0.0.1:12642", "--peer-cold-handles", str(listed),
                       "--peer-cold-restart", "true"])
    assert peer == ColdPeer("127.0.0.1", 12642, listed, "true")
    assert peer.key_file(tmp_path / "keys.json").hosted == ("9999/A", "9999/B")
    assert peer.prefix() == "9999"
    assert _cold_peer([]) is None
    with pytest.raises(ValueError, match=r"--peer-cold-handles need.* --peer-cold HOST:PORT"):
        _cold_peer(["--peer-cold-handles", str(listed)])
    with pytest.raises(ValueError, match="--peer-cold: expected HOST:PORT, got '12642'"):
        _cold_peer(["--peer-cold", "12642", "--peer-cold-handles", str(listed)])
    with pytest.raises(ValueError, match="--peer-cold needs --peer-cold-handles"):
        _cold_peer(["--peer-cold", "127.0.0.1:12642"])
    with pytest.raises(ValueError, match="--peer-cold-handles: no such file"):
        _cold_peer(["--peer-cold", "127.0.0.1:12642", "--peer-cold-handles",
                    str(tmp_path / "absent.txt")])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lists no handles"):
        ColdPeer("127.0.0.1", 12642, empty).prefix()


def _restart_script(folder: Path, serve: list[str]) -> Path:
    """A shell script that stops the peer started last time (if any) and starts it anew."""
    pid, log = folder / "peer.pid", folder / "peer.log"
    script = folder / "restart.sh"
    script.write_text(
        f"if [ -f {pid} ]; then old=$(cat {pid}); kill $old;\n"
        f"  while kill -0 $old 2>/dev/null; do sleep 0.1; done; fi\n"
        f"{shlex.join(serve)} >> {log} 2>&1 &\n"
        f"echo $! > {pid}\n", encoding="utf-8")
    return script


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cold_profile_restarts_the_cold_peer_and_walks_its_handles(tmp_path: Path) -> None:
    peer_dir, out = tmp_path / "peer", tmp_path / "results"
    handle_port, http_port = free_port(), free_port()
    names = init_node(peer_dir, database_url=f"sqlite+aiosqlite:///{peer_dir / 'registry.db'}",
                      handle_port=handle_port, http_port=http_port, products=15,
                      progress=lambda _: None)
    handles = tmp_path / "handles.txt"
    handles.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    serve = idnode_argv(peer_dir, "serve", "--handle-port", str(handle_port), "--http-port",
                        str(http_port), "--dns-port", "0")
    script = _restart_script(tmp_path, serve)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--quick", "--profiles", "cold",
             "--products", "300", "--rates", "10", "--locust-seconds", "2", "--out", str(out),
             "--peer-cold", f"127.0.0.1:{handle_port}", "--peer-cold-handles", str(handles),
             "--peer-cold-restart", f"sh {script}"],
            cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("IDNODE_")},
        )
    finally:
        pid = tmp_path / "peer.pid"
        if pid.exists():
            os.kill(int(pid.read_text()), signal.SIGTERM)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the cold peer answered" in done.stdout
    assert "serving" in (tmp_path / "peer.log").read_text()
    with (out / "measurements.csv").open() as table:
        rows = [r for r in csv.DictReader(table) if r["target"] == "peer"]
    assert [(r["profile"], r["protocol"], r["errors"]) for r in rows] == [
        ("cold", "HDL-UDP", "0")]
    assert 0 < int(rows[0]["requests"]) <= len(names)
    assert "ran out of fresh handles" not in rows[0]["note"]
    assert rows[0]["setup"] == f"127.0.0.1:{handle_port} (after sqlite/1w/redis-off)"
    # the peer's process was found and its CPU read (NaN if not): 61 answers are a few
    # milliseconds, which a kernel that charges CPU time by clock ticks can read as 0
    assert float(rows[0]["cpu_us"]) >= 0
    goals = json.loads((out / "goals.json").read_text())
    assert goals["cold UDP vs peer, SQLite"] > 0
    assert goals["cold UDP vs peer, PostgreSQL"] is None
    assert "cold UDP vs peer, SQLite" in done.stdout
