"""Benchmark output: the table on stdout, CSV files and PNG plots.

Every node figure is shown with its ratio to the matching baseline figure
(node / baseline: above 1 for latencies means slower than the bare server,
below 1 for throughput means fewer requests per second).  The baseline that
matches a node measurement used the same protocol, tool and offered rate;
for driver runs also as many server processes as the node had workers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.measure import PERCENTILES, Measurement

FIGURES = ("achieved_rps", *(name for name, _ in PERCENTILES))
HEADINGS = ("req/s", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms")


def baseline_for(node: Measurement, measurements: Sequence[Measurement]
                 ) -> Measurement | None:
    """The baseline measurement comparable with ``node``, if one was made."""
    for m in measurements:
        if (m.target == "baseline" and m.protocol == node.protocol and m.tool == node.tool
                and m.offered_rps == node.offered_rps
                and (m.tool == "locust" or m.processes == node.processes)):
            return m
    return None


def ratio(node: float, base: float) -> float:
    """node / base (NaN when either is missing or the base is zero)."""
    if math.isnan(node) or math.isnan(base) or base == 0:
        return math.nan
    return node / base


def _number(value: float, rate: bool) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}" if rate else f"{value:.2f}"


def _cell(m: Measurement, name: str, base: Measurement | None) -> str:
    value = float(getattr(m, name))
    text = _number(value, name == "achieved_rps")
    if base is not None and m.target == "node":
        r = ratio(value, float(getattr(base, name)))
        text += f" ({r:.2f}x)" if not math.isnan(r) else " (-)"
    return text


def _cpu(m: Measurement) -> str:
    """Server CPU per answer: ``node`` or ``node+database`` microseconds."""
    if math.isnan(m.cpu_us):
        return "-"
    return f"{m.cpu_us:.0f}" + ("" if math.isnan(m.db_cpu_us) else f"+{m.db_cpu_us:.0f}")


def table(measurements: Sequence[Measurement]) -> str:
    """Aligned text table: baselines first, then the node runs in the order made."""
    head = ("target", "setup", "profile", "proto", "tool", "offered", "resp B", *HEADINGS,
            "CPU us", "errors", "note")
    rows: list[tuple[str, ...]] = [head]
    ordered = [m for m in measurements if m.target == "baseline"]
    ordered += [m for m in measurements if m.target != "baseline"]
    for m in ordered:
        base = baseline_for(m, measurements)
        offered = "max" if m.offered_rps is None else f"{m.offered_rps:.0f}"
        size = "-" if math.isnan(m.mean_bytes) else f"{m.mean_bytes:.0f}"
        rows.append((m.target, m.setup, m.profile, m.protocol, m.tool, offered, size,
                     *(_cell(m, name, base) for name in FIGURES), _cpu(m),
                     f"{m.errors}/{m.requests}", m.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_csv(measurements: Sequence[Measurement], path: Path) -> None:
    """One row per measurement with the ratios to its baseline."""
    names = list(measurements[0].row()) if measurements else []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*names, *(f"ratio_{n}" for n in FIGURES)])
        for m in measurements:
            base = baseline_for(m, measurements) if m.target == "node" else None
            ratios = [ratio(float(getattr(m, n)), float(getattr(base, n))) if base else ""
                      for n in FIGURES]
            writer.writerow([*m.row().values(), *ratios])


def _latency_bars(ax: Any, series: dict[tuple[str, str], list[Measurement]]) -> None:
    """p50 and p99 of each series as a pair of bars (every series has one load point)."""
    names = sorted(series)
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [series[n][0].p50 for n in names], width=0.4, label="p50")
    ax.bar([i + 0.2 for i in x], [series[n][0].p99 for n in names], width=0.4, label="p99")
    ax.set_xticks(list(x), [f"{t} {p}\n{series[(t, p)][0].offered_rps or 0:.0f} req/s"
                            for t, p in names], fontsize=8)


def latency_axes(ax: Any, measurements: Sequence[Measurement], sweep: tuple[str, str]) -> None:
    """Latency by offered load of the sweep and the baselines on ``ax``: lines over
    the load points, or bars when each series has a single load point."""
    series: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        if m.tool == "locust" and m.offered_rps is not None and (
                m.target == "baseline" or (m.setup, m.profile) == sweep):
            series.setdefault((m.target, m.protocol), []).append(m)
    if all(len(points) == 1 for points in series.values()):
        _latency_bars(ax, series)
        return
    for (target, protocol), points in sorted(series.items()):
        points.sort(key=lambda m: m.offered_rps or 0)
        x = [m.offered_rps or 0.0 for m in points]
        (line,) = ax.plot(x, [m.p50 for m in points], "-", marker="o",
                          label=f"{target} {protocol} p50")
        ax.plot(x, [m.p99 for m in points], "--", marker="^", color=line.get_color(),
                label=f"{target} {protocol} p99")
    ax.set_xlabel("offered load (requests/s, Locust)")


def plot(measurements: Sequence[Measurement], latency_png: Path, throughput_png: Path,
         sweep: tuple[str, str]) -> None:
    """Latency against offered load for the ``(setup, profile)`` sweep and the
    baselines; maximum throughput of every driver run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    latency_axes(ax, measurements, sweep)
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"latency vs offered load: node {sweep[0]} {sweep[1]} and baselines")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(latency_png, dpi=110)
    plt.close(fig)

    drivers = [m for m in measurements if m.tool == "driver"]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(drivers) + 1.5))
    labels = [f"{m.target} {m.setup} {m.profile} {m.protocol}" for m in drivers]
    ax.barh(labels, [m.achieved_rps for m in drivers],
            color=["tab:gray" if m.target == "baseline" else "tab:blue" for m in drivers])
    ax.invert_yaxis()
    ax.set_xlabel("maximum throughput (requests/s, driver)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(throughput_png, dpi=110)
    plt.close(fig)
