"""Process-wide counters and histograms, exposed in the Prometheus text format.

One :class:`Metrics` object is shared by every front end of a process (Handle
TCP/UDP, REST, proxy pages, DNS) and by the cache layers, so ``/metrics`` shows
requests by front end and response code, latency histograms, cache hits and
misses, and gauges such as the store size (read at scrape time through a
callback).

The text exposition (format 0.0.4) is written by hand: it is a few dozen lines,
it keeps the hot path to a dict update, and it avoids ``prometheus_client``'s
global registry and its multi-process mode, which clash with one-process-per-core
serving. Each process exposes its own numbers; sum them across processes in the
query (``sum by (frontend) (rate(idnode_requests_total[1m]))``).
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: latency buckets in seconds: resolution is sub-millisecond when cached.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)

GaugeCallback = Callable[[], float | int | Awaitable[float | int]]


@dataclass(slots=True)
class _Histogram:
    """Cumulative-at-render histogram: per-bucket counts, sum and count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass(slots=True)
class _Gauge:
    """A gauge read through a callback, remembered for ``max_age`` seconds."""

    help_text: str
    read: GaugeCallback
    max_age: float
    last: float = 0.0
    read_at: float = -math.inf

    async def value(self) -> float:
        now = time.monotonic()
        if now - self.read_at >= self.max_age:
            value = self.read()
            if inspect.isawaitable(value):
                value = await value
            self.last, self.read_at = float(value), now
        return self.last


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Metrics:
    """Counters for one process; cheap to update from the event loop."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self._buckets = tuple(sorted(buckets))
        self._requests: dict[tuple[str, int], int] = {}
        self._latency: dict[str, _Histogram] = {}
        self._cache_hits: dict[str, int] = {}
        self._cache_misses: dict[str, int] = {}
        self._gauges: dict[str, _Gauge] = {}

    def observe_request(self, frontend: str, response_code: int, seconds: float) -> None:
        """Count one answered request of ``frontend`` and record its latency."""
        key = (frontend, response_code)
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._latency.get(frontend)
        if histogram is None:
            histogram = self._latency[frontend] = _Histogram(self._buckets)
        histogram.observe(seconds)

    def cache_hit(self, layer: str) -> None:
        """Count a cache hit in ``layer`` (for example ``memory`` or ``redis``)."""
        self._cache_hits[layer] = self._cache_hits.get(layer, 0) + 1

    def cache_miss(self, layer: str) -> None:
        """Count a cache miss in ``layer``."""
        self._cache_misses[layer] = self._cache_misses.get(layer, 0) + 1

    def add_gauge(
        self, name: str, help_text: str, read: GaugeCallback, *, max_age: float = 0.0
    ) -> None:
        """Expose gauge ``name``, read by calling ``read`` (sync or async) at scrape time.

        A value younger than ``max_age`` seconds is shown again instead of reading
        anew (for gauges costly to read, such as counting the store).
        """
        self._gauges[name] = _Gauge(help_text, read, max_age)

    def requests_by_frontend(self) -> dict[str, dict[int, int]]:
        """Requests answered so far: front end -> response code -> count."""
        found: dict[str, dict[int, int]] = {}
        for (frontend, code), n in self._requests.items():
            found.setdefault(frontend, {})[code] = n
        return found

    def latency_quantile(self, frontend: str, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile of ``frontend``'s latency."""
        hist = self._latency.get(frontend)
        if hist is None or hist.count == 0:
            return None
        wanted, running = q * hist.count, 0
        for bound, n in zip((*hist.buckets, math.inf), hist.counts, strict=True):
            running += n
            if running >= wanted:
                return bound
        return math.inf

    def cache_counts(self) -> dict[str, tuple[int, int]]:
        """Cache layer -> (hits, misses)."""
        layers = set(self._cache_hits) | set(self._cache_misses)
        return {layer: (self._cache_hits.get(layer, 0), self._cache_misses.get(layer, 0))
                for layer in sorted(layers)}

    def request_count(self, frontend: str, response_code: int) -> int:
        """How many requests of ``frontend`` were answered with ``response_code``."""
        return self._requests.get((frontend, response_code), 0)

    async def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        lines: list[str] = [
            "# HELP idnode_requests_total Requests answered, by front end and response code.",
            "# TYPE idnode_requests_total counter",
        ]
        for (frontend, code), n in sorted(self._requests.items()):
            lines.append(
                f'idnode_requests_total{{frontend="{_escape(frontend)}",'
                f'response_code="{code}"}} {n}'
            )
        lines += [
            "# HELP idnode_request_duration_seconds Time to answer a request, by front end.",
            "# TYPE idnode_request_duration_seconds histogram",
        ]
        for frontend, hist in sorted(self._latency.items()):
            label = f'frontend="{_escape(frontend)}"'
            running = 0
            for bound, n in zip((*hist.buckets, math.inf), hist.counts, strict=True):
                running += n
                lines.append(
                    f'idnode_request_duration_seconds_bucket{{{label},le="{_number(bound)}"}} '
                    f"{running}"
                )
            lines.append(f"idnode_request_duration_seconds_sum{{{label}}} {_number(hist.total)}")
            lines.append(f"idnode_request_duration_seconds_count{{{label}}} {hist.count}")
        for name, what, table in (
            ("idnode_cache_hits_total", "Cache hits, by cache layer.", self._cache_hits),
            ("idnode_cache_misses_total", "Cache misses, by cache layer.", self._cache_misses),
        ):
            lines += [f"# HELP {name} {what}", f"# TYPE {name} counter"]
            lines += [
                f'{name}{{layer="{_escape(layer)}"}} {n}' for layer, n in sorted(table.items())
            ]
        for name, gauge in sorted(self._gauges.items()):
            try:
                value = await gauge.value()
            except Exception:  # a broken gauge must not hide the other metrics
                _log.exception("metrics: gauge %s could not be read", name)
                continue
            lines += [
                f"# HELP {name} {_escape(gauge.help_text)}",
                f"# TYPE {name} gauge",
                f"{name} {_number(value)}",
            ]
        return "\n".join(lines) + "\n"
