"""Usage statistics kept by the serving side for ``idnode stats`` and the upward report.

The hot path only adds to an in-memory dict (answered resolutions per hour,
node-wide and per prefix of the handles that resolved); :meth:`UsageCounter.flush`
moves the counts, and the cache hits and misses the resolution stack counted
since the last flush, into the registry's stats counters
(:mod:`registry.stats_report` reads them).  Per-prefix counts are kept only for
handles that resolved, so a client asking for random names cannot grow the table.

The most asked handles of each prefix and day ("top identifiers" of the
enterprise portal) are counted with the Space-Saving algorithm (Metwally et
al., 2005): at most :data:`TOP_PER_PREFIX` handles per prefix and day between
two flushes; a new handle over that takes the place of the least counted one
and inherits its count, so memory stays bounded whatever clients ask, and
every handle asked more often than 1/``TOP_PER_PREFIX`` of the prefix's
resolutions is among those kept.  Counts of kept handles may be over-estimated
by at most the evicted count.

Answers sent from pre-encoded forms (:mod:`resolver.core.hot`, tens of thousands a
second) are only counted per handle (:meth:`UsageCounter.resolved_kept`, one dict
add) and folded into the hourly counts at the next flush, or sooner when
:data:`MAX_WAITING` handles wait: they count in the hour they are folded in.
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
DAY = 86400
NODE = ""  # the prefix that stands for the whole node
TOP_PER_PREFIX = 32
MAX_TOP_PREFIXES = 4096
#: distinct handles whose answers from kept forms may wait to be folded in
MAX_WAITING = 4096


class SpaceSaving:
    """The handles kept for one prefix and day, by count (Space-Saving's "stream
    summary"): handles grouped by their count, so the least counted one (the one a new
    handle replaces, on a scan of handles asked once each: every time) is found without
    looking at every kept handle; of the least counted, the one longest at that count."""

    __slots__ = ("by_count", "counts", "least")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        #: the handles at each count, in the order they reached it
        self.by_count: dict[int, dict[str, None]] = {}
        self.least = 0  # the smallest count held (0: none held)

    def add(self, handle: str, count: int, capacity: int) -> None:
        """Count ``handle`` ``count`` times; a new one over ``capacity`` handles takes the
        place of the least counted one and inherits its count."""
        counts, by_count = self.counts, self.by_count
        old = counts.get(handle)
        if old is None:
            if len(counts) >= capacity:
                old = self.least
                victim = next(iter(by_count[old]))
                del counts[victim]
                self._leave(victim, old)
            else:
                old = 0
        else:
            self._leave(handle, old)
        new = counts[handle] = old + count
        at = by_count.get(new)
        if at is None:
            at = by_count[new] = {}
        at[handle] = None
        if not self.least or new < self.least:
            self.least = new
        elif old == self.least and old not in by_count:
            self.least = min(by_count)

    def _leave(self, handle: str, count: int) -> None:
        at = self.by_count[count]
        del at[handle]
        if not at:
            del self.by_count[count]

    def items(self) -> list[tuple[str, int]]:
        """(handle, count) of every kept handle."""
        return list(self.counts.items())

    def __len__(self) -> int:
        return len(self.counts)


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
        self._top: dict[tuple[int, str], SpaceSaving] = {}
        self._cache_seen = (0, 0)
        self._waiting: dict[str, int] = {}

    def resolved(self, handle: str, response_code: int, count: int = 1) -> None:
        """Count ``count`` answered resolutions of ``handle``."""
        hour = int(self._clock()) // HOUR
        pending = self._pending
        pending[hour, NODE] = pending.get((hour, NODE), 0) + count
        if response_code == RC_SUCCESS:
            prefix = handle.partition("/")[0]
            key = (hour, prefix)
            pending[key] = pending.get(key, 0) + count
            self._count_top(hour * HOUR // DAY, prefix, handle, count)

    def resolved_kept(self, handle: str) -> None:
        """Count one successful resolution of ``handle`` answered from a pre-encoded
        form (folded in later, see the module docstring)."""
        waiting = self._waiting
        waiting[handle] = waiting.get(handle, 0) + 1
        if len(waiting) > MAX_WAITING:
            self.fold()

    def fold(self) -> None:
        """Add the waiting counts of :meth:`resolved_kept` to the hourly counts."""
        waiting, self._waiting = self._waiting, {}
        for handle, count in waiting.items():
            self.resolved(handle, RC_SUCCESS, count)

    def _count_top(self, day: int, prefix: str, handle: str, count: int) -> None:
        """Space-Saving: count ``handle`` ``count`` times among the kept handles of
        ``prefix`` on ``day``."""
        kept = self._top.get((day, prefix))
        if kept is None:
            if len(self._top) >= MAX_TOP_PREFIXES:
                return
            kept = self._top[day, prefix] = SpaceSaving()
        kept.add(handle, count, TOP_PER_PREFIX)

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
        self.fold()
        pending, self._pending = self._pending, {}
        top, self._top = self._top, {}
        now_hour = _period(int(self._clock()) // HOUR)
        rows = [(METRIC_RESOLUTIONS, prefix, _period(hour), n)
                for (hour, prefix), n in pending.items()]
        hits, misses = self._cache_delta()
        rows += [(METRIC_CACHE_HITS, NODE, now_hour, hits),
                 (METRIC_CACHE_MISSES, NODE, now_hour, misses)]
        rows = [row for row in rows if row[3] > 0]
        top_rows = [(_period(day * DAY // HOUR), prefix, handle, n)
                    for (day, prefix), kept in top.items() for handle, n in kept.items()]
        try:
            await store.bump_top_handles(top_rows)
        except Exception as exc:  # approximate counts: dropped rather than kept unbounded
            log.warning("top identifier counts not saved: %r", exc)
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
