"""``python -m benchmarks.run --profiles write --peer ...`` end to end, with another real
node as the peer: as many creates on the peer as on the node, over the Handle protocol and
REST, measured as target "peer" and compared in the goals; the peer's secret, read from
the environment, appears in no output and no result file.  No figure is asserted."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import writes
from benchmarks.processes import run_idnode
from tests.benchmarks.serving import serving

ROOT = Path(__file__).resolve().parents[2]
CREATES = 12
WARMUP = 5


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_write_profile_creates_on_the_peer_too(tmp_path: Path) -> None:
    peer_dir, out = tmp_path / "peer", tmp_path / "results"
    run_idnode(peer_dir, "init", "--prefix", "88.118", "--demo", "--demo-products", "0")
    writer = writes.Credentials.of_enterprise(peer_dir, "HAIYUE", "88.118.8", {})
    env = {"IDNODE_RATE_LIMIT": "0", "IDNODE_HTTP_INSECURE_AUTH": "true"}
    with serving(peer_dir, env, "--dns-port", "0") as (http_port, handle_port):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--quick", "--profiles", "write",
             "--products", "60", "--creates", str(CREATES), "--create-warmup", str(WARMUP),
             "--out", str(out),
             "--peer", f"127.0.0.1:{handle_port},http://127.0.0.1:{http_port}",
             "--peer-handles", "0.NA/88.118", "--peer-admin",
             f"{writer.index}:{writer.handle}", "--peer-secret-env", "PEER_SECRET",
             "--peer-create-prefix", writer.prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=230, check=False,
            env={**os.environ, "PEER_SECRET": writer.secret},
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "measurements.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["profile"] == "create"]
    assert sorted((r["target"], r["protocol"], r["requests"], r["errors"]) for r in rows) == [
        ("node", "HDL-TCP", str(CREATES), "0"), ("node", "HTTP", str(CREATES), "0"),
        ("peer", "HDL-TCP", str(CREATES), "0"), ("peer", "HTTP", str(CREATES), "0")]
    # each target made the warm-up creates first, over each protocol, not measured
    warmups = [line for line in done.stdout.splitlines() if f": {WARMUP} to warm up" in line]
    assert len(warmups) == 4, done.stdout[-3000:]
    made = _handles_under(peer_dir, writer.prefix)
    assert sum(bool(re.search(r"w-\d{7}$", name)) for name in made) == 2 * WARMUP, made
    assert len(made) == 2 * (WARMUP + CREATES), made
    goals = json.loads((out / "goals.json").read_text())
    assert goals["creates over Handle vs peer"] > 0 and goals["creates over REST vs peer"] > 0
    assert "creates over REST vs peer" in done.stdout
    assert writer.secret not in done.stdout + done.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert writer.secret.encode() not in path.read_bytes(), path


def _handles_under(data_dir: Path, prefix: str) -> list[str]:
    """The names of the handles ``data_dir``'s registry holds under ``prefix``."""
    listed = run_idnode(data_dir, "handle", "list", prefix, "--limit", "1000")
    return [line.strip() for line in listed.splitlines()
            if line.strip().startswith(prefix + "/")]
