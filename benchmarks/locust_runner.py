"""Run Locust headless in a subprocess at a fixed request rate and read its samples.

Locust runs in its own process (it monkey-patches the interpreter with
gevent) with ``benchmarks/locustfile.py``.  A rate ``R`` is offered by
``U = ceil(R / PER_USER_RATE)`` users each pacing itself to ``R / U`` tasks
per second (``constant_throughput``), all spawned within the first second.
Locust's own CSV files are kept in the results folder; the figures come
from the raw samples the locustfile writes (exact latencies, where Locust's
CSV rounds to whole milliseconds), minus the first ``warmup`` seconds.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.workload import WorkloadSpec

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PER_USER_RATE = 10.0
MAX_USERS = 200
REQUEST_TYPES = {"GET": "HTTP"}


@dataclass
class LocustFigures:
    """Samples of one request type within the measured window."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    tcp_fallbacks: int = 0
    answer_bytes: int = 0


@dataclass(frozen=True)
class LocustRun:
    """What to run: user classes, target and pace."""

    user_class: str
    rate: float
    duration: float
    warmup: float
    http_url: str
    hdl_port: int
    admin_key: str = ""


def users_for(rate: float) -> tuple[int, float]:
    """(users, tasks per second per user) offering ``rate`` requests per second."""
    users = max(1, min(MAX_USERS, math.ceil(rate / PER_USER_RATE)))
    return users, rate / users


def locust_argv(run: LocustRun, spec: WorkloadSpec, out: Path) -> list[str]:
    """The Locust command line; CSV files and samples go to ``out``-prefixed paths."""
    users, per_user = users_for(run.rate)
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(users), "-r", str(users), "--run-time", f"{math.ceil(run.duration)}s",
            "--stop-timeout", "2", "--exit-code-on-error", "0", "--only-summary",
            "--csv", str(out), "--host", run.http_url, "--hdl-port", str(run.hdl_port),
            "--bench-user-rate", f"{per_user:.6f}", "--bench-samples", f"{out}_samples.json"]
    if run.admin_key:
        argv += ["--admin-key", run.admin_key]
    for name, value in spec.to_env().items():
        argv += ["--bench-" + name.removeprefix("IDNODE_BENCH_").lower().replace("_", "-"),
                 value]
    return [*argv, run.user_class]


def run_locust(run: LocustRun, spec: WorkloadSpec, out: Path
               ) -> tuple[dict[str, LocustFigures], float]:
    """Run Locust; per request type its figures, and the measured seconds."""
    log = out.with_name(out.name + "_locust.log")
    with log.open("wb") as sink:
        done = subprocess.run(locust_argv(run, spec, out), stdout=sink,
                              stderr=subprocess.STDOUT, timeout=run.duration + 90, check=False)
    samples_file = Path(f"{out}_samples.json")
    if done.returncode != 0 or not samples_file.exists():
        tail = log.read_text(errors="replace").strip()[-600:]
        raise RuntimeError(f"locust exited with {done.returncode} (see {log}): {tail}")
    samples = json.loads(samples_file.read_text())
    return figures(samples, run.warmup)


def figures(samples: list[list[Any]], warmup: float
            ) -> tuple[dict[str, LocustFigures], float]:
    """Group ``[time, type, name, ms, ok, bytes]`` samples by type after ``warmup`` seconds
    (a name ending in ``+tcp``: a UDP request answered over TCP)."""
    if not samples:
        return {}, 0.0
    times = [float(s[0]) for s in samples]
    start = min(times) + warmup
    by_type: dict[str, LocustFigures] = defaultdict(LocustFigures)
    for when, kind, name, ms, ok, size in samples:
        if float(when) < start:
            continue
        entry = by_type[REQUEST_TYPES.get(str(kind), str(kind))]
        entry.tcp_fallbacks += str(name).endswith("+tcp")
        if ok:
            entry.latencies.append(float(ms))
            entry.answer_bytes += int(size)
        else:
            entry.errors += 1
    return dict(by_type), max(1e-9, max(times) - start)
