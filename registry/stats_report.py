"""Node statistics: identifier counts and usage counters, and the upward report.

Usage counters are rows ``(period start, prefix, metric, count)`` kept by the
resolver (:meth:`HandleStore.bump_counter`); the prefix ``""`` stands for the
whole node.  Metrics read here: :data:`METRIC_RESOLUTIONS` (answered
resolutions), :data:`METRIC_CACHE_HITS` and :data:`METRIC_CACHE_MISSES`.  The
serving side is expected to add to them per hour (period = the start of the
UTC hour), per prefix and node-wide; where only node-wide counts exist, the
report's per-period figures use those.

The statistics report a secondary node sends to the national top-level node is
one JSON document (``format`` :data:`REPORT_FORMAT`)::

    {
      "format": "idnode-stats-report/1",
      "node_prefix": "88.118",
      "generated": "2026-11-26T10:00:00Z",
      "period": {"start": "2026-11-25T10:00:00Z", "end": "2026-11-26T10:00:00Z"},
      "identifiers": {
        "total": 1052,
        "by_prefix": [{"prefix": "88.118.8", "kind": "hosted", "owner": "HAIER",
                       "status": "active", "count": 1000}, ...],
        "by_enterprise": [{"code": "HAIER", "name": "...", "industry": "appliance",
                           "status": "active", "quota": null, "count": 1000}, ...]
      },
      "resolutions": {
        "total": 52811,
        "by_prefix": [{"prefix": "88.118.8", "count": 50000}, ...],
        "by_period": [{"period": "2026-11-25T10:00:00Z", "count": 2200}, ...]
      },
      "cache": {"hits": 50000, "misses": 2811, "ratio": 0.9468}
    }

Identifier counts are the state at ``generated``; resolution and cache counts
are the sums over counter periods starting in ``[start, end)``.  Times are UTC,
ISO 8601 with ``Z``.  Prefix ``""`` in ``resolutions.by_prefix`` is the
node-wide total when the resolver keeps only that.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from registry.store import HandleStore

REPORT_FORMAT = "idnode-stats-report/1"
METRIC_RESOLUTIONS = "resolutions"
METRIC_CACHE_HITS = "cache_hits"
METRIC_CACHE_MISSES = "cache_misses"


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` and whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def identifier_counts(store: HandleStore) -> dict[str, Any]:
    """Handles per registered prefix and per enterprise, and the node total."""
    enterprises = {e.code: e for e in await store.list_enterprises()}
    by_prefix = []
    per_enterprise: dict[str, int] = defaultdict(int)
    for prefix in await store.list_prefixes():
        count = await store.count_handles(prefix.name)
        by_prefix.append({"prefix": prefix.name, "kind": prefix.kind, "owner": prefix.owner,
                          "status": prefix.status, "count": count})
        if prefix.owner:
            per_enterprise[prefix.owner] += count
    by_enterprise = [
        {"code": e.code, "name": e.name, "industry": e.industry, "status": e.status,
         "quota": e.quota, "count": per_enterprise.get(e.code, 0)}
        for e in enterprises.values()
    ]
    return {"total": await store.count_handles(), "by_prefix": by_prefix,
            "by_enterprise": by_enterprise}


async def usage(store: HandleStore, start: datetime, end: datetime) -> dict[str, Any]:
    """Resolution totals (overall, per prefix, per period) and the cache ratio."""
    rows = await store.read_counters(since=start, until=end)
    total_by_metric: dict[str, int] = defaultdict(int)
    by_prefix: dict[str, int] = defaultdict(int)
    by_period: dict[datetime, int] = defaultdict(int)
    node_wide: dict[str, int] = defaultdict(int)
    node_level = any(r.prefix == "" and r.metric == METRIC_RESOLUTIONS for r in rows)
    for row in rows:
        if row.prefix == "":
            node_wide[row.metric] += row.count
        total_by_metric[row.metric] += row.count
        if row.metric == METRIC_RESOLUTIONS:
            by_prefix[row.prefix] += row.count
            if row.prefix == "" or not node_level:
                by_period[row.period] += row.count

    def total(metric: str) -> int:
        # Prefer the node-wide counter; else sum the per-prefix ones.
        return node_wide[metric] if metric in node_wide else total_by_metric[metric]

    hits, misses = total(METRIC_CACHE_HITS), total(METRIC_CACHE_MISSES)
    return {
        "resolutions": {
            "total": total(METRIC_RESOLUTIONS),
            "by_prefix": [{"prefix": p, "count": n} for p, n in sorted(by_prefix.items())],
            "by_period": [{"period": iso(p), "count": n} for p, n in sorted(by_period.items())],
        },
        "cache": {"hits": hits, "misses": misses,
                  "ratio": round(hits / (hits + misses), 4) if hits + misses else None},
    }


async def build_report(
    store: HandleStore, node_prefix: str, start: datetime, end: datetime,
    *, now: datetime | None = None,
) -> dict[str, Any]:
    """The upward statistics report (see the module docstring)."""
    return {
        "format": REPORT_FORMAT,
        "node_prefix": node_prefix,
        "generated": iso(now or datetime.now(UTC)),
        "period": {"start": iso(start), "end": iso(end)},
        "identifiers": await identifier_counts(store),
        **await usage(store, start, end),
    }
