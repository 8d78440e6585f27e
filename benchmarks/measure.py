"""One benchmark figure set (:class:`Measurement`) and the statistics behind it.

Latencies are kept as exact samples in milliseconds and summarised with
nearest-rank percentiles (p50, p95, p99, p99.9).  Driver runs also carry the
server CPU per answer (:mod:`benchmarks.cpu`), the figure that moves least
with the load others put on a shared machine.  ``mean_bytes`` is the mean
size of the successful answers (HTTP body; Handle datagrams or TCP frame),
so profiles that happen to ask for larger records can be told apart.  ``offered_rps`` is the
request rate a Locust run was asked for; driver runs have none (they push
as hard as they can) and report the rate they reached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted samples (NaN when there are none)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(round(pct * len(ordered) / 100.0, 9)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and p999 of ``samples``."""
    ordered = sorted(samples)
    return {name: percentile(ordered, pct) for name, pct in PERCENTILES}


@dataclass(frozen=True, slots=True)
class Measurement:
    """The figures of one run against one target.

    ``target`` is ``node`` or ``baseline``; ``setup`` names the node's
    configuration (store, workers, Redis) or the baseline's processes;
    ``profile`` the workload; ``tool`` ``locust`` or ``driver``.
    """

    target: str
    setup: str
    profile: str
    protocol: str
    tool: str
    offered_rps: float | None
    achieved_rps: float
    requests: int
    errors: int
    p50: float
    p95: float
    p99: float
    p999: float
    processes: int = 1
    mean_bytes: float = math.nan
    note: str = ""
    #: server CPU per answer in microseconds: the node's processes (or the baseline's),
    #: and on PostgreSQL the database's backends serving it (NaN: not measured)
    cpu_us: float = math.nan
    db_cpu_us: float = math.nan

    @classmethod
    def from_samples(cls, samples: Sequence[float], *, seconds: float, errors: int,
                     answer_bytes: int = 0, **labels: Any) -> Measurement:
        """Figures from latency samples (ms) of successful requests over ``seconds``
        that answered ``answer_bytes`` in all."""
        rate = len(samples) / seconds if seconds > 0 else 0.0
        figures: dict[str, Any] = summarise(samples)
        mean = answer_bytes / len(samples) if samples else math.nan
        return cls(achieved_rps=rate, requests=len(samples) + errors, errors=errors,
                   mean_bytes=mean, **figures, **labels)

    def row(self) -> dict[str, Any]:
        """As a flat dict (CSV row)."""
        return asdict(self)
