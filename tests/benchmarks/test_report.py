"""Figures and their presentation: percentiles, baseline matching, table, CSV and plots."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from benchmarks.measure import Measurement, percentile, summarise
from benchmarks.report import baseline_for, latency_axes, plot, table, write_csv


def make(target: str, protocol: str, tool: str, rate: float | None, p50: float,
         achieved: float = 100.0, processes: int = 1) -> Measurement:
    return Measurement(target=target, setup="bare/1p" if target == "baseline" else "sqlite/1w",
                       profile="hot", protocol=protocol, tool=tool, offered_rps=rate,
                       achieved_rps=achieved, requests=1000, errors=0, p50=p50,
                       p95=2 * p50, p99=3 * p50, p999=4 * p50, processes=processes)


RUNS = [
    make("baseline", "HTTP", "locust", 50.0, 0.5),
    make("baseline", "HTTP", "locust", 150.0, 0.6),
    make("baseline", "HDL-UDP", "driver", None, 0.2, achieved=10_000.0),
    make("node", "HTTP", "locust", 50.0, 2.0),
    make("node", "HTTP", "locust", 150.0, 3.0),
    make("node", "HDL-UDP", "driver", None, 1.0, achieved=2500.0),
    make("node", "HDL-UDP", "driver", None, 1.0, achieved=4000.0, processes=2),
]


def test_nearest_rank_percentiles() -> None:
    samples = [float(i) for i in range(1, 1001)]
    assert summarise(samples) == {"p50": 500.0, "p95": 950.0, "p99": 990.0, "p999": 999.0}
    assert percentile([3.0], 99.9) == 3.0
    assert math.isnan(percentile([], 50))


def test_measurement_from_samples() -> None:
    m = Measurement.from_samples([1.0, 2.0, 3.0, 4.0], seconds=2.0, errors=1, target="node",
                                 setup="s", profile="hot", protocol="HTTP", tool="locust",
                                 offered_rps=2.0, answer_bytes=1000)
    assert (m.achieved_rps, m.requests, m.errors, m.p50, m.mean_bytes) == (2.0, 5, 1, 2.0,
                                                                         250.0)


def test_baselines_match_protocol_tool_rate_and_processes() -> None:
    assert baseline_for(RUNS[4], RUNS) is RUNS[1]
    assert baseline_for(RUNS[5], RUNS) is RUNS[2]
    assert baseline_for(RUNS[6], RUNS) is None


def test_table_shows_ratios_to_the_baseline() -> None:
    text = table(RUNS)
    lines = text.splitlines()
    assert lines[0].split()[:8] == ["target", "setup", "profile", "proto", "tool", "offered",
                                    "resp", "B"]
    assert all(line.startswith("baseline") for line in lines[2:5])
    assert "2500 (0.25x)" in text and "3.00 (5.00x)" in text
    assert "4000 (-)" not in text and "4000" in text


def test_csv_has_every_run_and_the_ratios(tmp_path: Path) -> None:
    write_csv(RUNS, tmp_path / "m.csv")
    with (tmp_path / "m.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(RUNS)
    assert float(rows[3]["ratio_p50"]) == 4.0 and rows[0]["ratio_p50"] == ""
    assert float(rows[5]["ratio_achieved_rps"]) == 0.25


def test_plots_are_png_files(tmp_path: Path) -> None:
    plot(RUNS, tmp_path / "lat.png", tmp_path / "tput.png", ("sqlite/1w", "hot"))
    for name in ("lat.png", "tput.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_load_point_is_drawn_as_bars_several_as_lines() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [RUNS[0], RUNS[3]]  # baseline and node HTTP at 50 req/s only
    _, ax = plt.subplots()
    latency_axes(ax, single, ("sqlite/1w", "hot"))
    assert len(ax.patches) == 4 and not ax.lines  # p50 and p99 bars per series
    _, swept = plt.subplots()
    latency_axes(swept, RUNS, ("sqlite/1w", "hot"))
    assert len(swept.lines) == 4 and not swept.patches
    plt.close("all")
