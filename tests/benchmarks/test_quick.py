"""``python -m benchmarks.run --quick`` end to end: a node, Locust, the driver and the
baselines, producing the table, the CSV and the plots.  No figure is asserted: this
machine's speed is not the subject of a test."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_run_writes_table_csv_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--products", "120", "--out",
         str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=115, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("[") and "starting node" in line for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("target "))
    rows = [line.split()[:5] for line in lines[header + 2:] if line.strip()
            and line.split()[0] in ("node", "baseline")]
    for target in ("node", "baseline"):
        for protocol in ("HTTP", "HDL-UDP"):
            for tool in ("locust", "driver"):
                assert any(r[0] == target and r[3] == protocol and r[4] == tool for r in rows)
    with (out / "measurements.csv").open() as handle:
        measured = list(csv.DictReader(handle))
    assert len(measured) == len(rows) == 8
    assert {"p50", "p99", "p999", "achieved_rps", "ratio_p99"} <= set(measured[0])
    for name in ("latency_vs_load.png", "throughput.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert (out / "table.txt").read_text().count("\n") >= 10
    assert list((out / "locust").glob("*_stats.csv"))
