"""Usage statistics kept by the serving side for ``idnode stats`` and the upward report.

The hot path only adds to an in-memory dict (answered resolutions per hour,
node-wide and per prefix of the handles that resolved); :meth:`UsageCounter.flush`
moves the counts, and the cache hits and misses the resolution stack counted
since the last flush, into the registry's stats counters
(:mod:`registry.stats_report` reads them).  Per-prefix counts are kept only for
handles that resolved, so a client asking for random names cannot grow the table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from protocol.constants import RC_SUCCESS
from registry.stats_report import METRIC_CACHE_HITS, METRIC_CACHE_MISSES, METRIC_RESOLUTIONS
from registry.store import HandleStore

log = logging.getLogger(__name__)

HOUR = 3600
NODE = ""  # the prefix that stands for the whole node


class UsageCounter:
    """Resolution counts per hour, waiting to be flushed to the store."""

    def __init__(
        self,
        cache_counters: Callable[[], Mapping[str, int]] = dict,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache_counters = cache_counters
        self._clock = clock
        self._pending: dict[tuple[int, str], int] = {}
        self._cache_seen = (0, 0)

    def resolved(self, handle: str, response_code: int) -> None:
        """Count one answered resolution of ``handle``."""
        hour = int(self._clock()) // HOUR
        pending = self._pending
        pending[hour, NODE] = pending.get((hour, NODE), 0) + 1
        if response_code == RC_SUCCESS:
            key = (hour, handle.partition("/")[0])
            pending[key] = pending.get(key, 0) + 1

    def _cache_delta(self) -> tuple[int, int]:
        """Cache hits and misses (any layer) since the last call."""
        counters = self._cache_counters()
        hits = counters.get("memory_hits", 0) + counters.get("redis_hits", 0)
        misses = counters.get("memory_misses", 0) - counters.get("redis_hits", 0)
        seen_hits, seen_misses = self._cache_seen
        self._cache_seen = (hits, misses)
        return hits - seen_hits, misses - seen_misses

    async def flush(self, store: HandleStore) -> None:
        """Add everything counted since the last flush to the store's counters."""
        pending, self._pending = self._pending, {}
        now_hour = _period(int(self._clock()) // HOUR)
        rows = [(METRIC_RESOLUTIONS, prefix, _period(hour), n)
                for (hour, prefix), n in pending.items()]
        hits, misses = self._cache_delta()
        rows += [(METRIC_CACHE_HITS, NODE, now_hour, hits),
                 (METRIC_CACHE_MISSES, NODE, now_hour, misses)]
        rows = [row for row in rows if row[3] > 0]
        try:
            await store.bump_counters(rows)
        except Exception as exc:  # the store is down: keep the counts for the next flush
            log.warning("usage counters not saved, retrying later: %r", exc)
            for (hour, prefix), n in pending.items():
                self._pending[hour, prefix] = self._pending.get((hour, prefix), 0) + n
            self._cache_seen = (self._cache_seen[0] - hits, self._cache_seen[1] - misses)

    async def run(self, store: HandleStore, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.flush(store)


def _period(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)
