"""Following the registry's change feed: drop what other writers changed from this cache.

A serving process caches answers for their TTL (a day by default), and the
writes of other processes (``idnode handle set``, ``idnode import``, the other
workers, other hosts of one PostgreSQL registry) do not pass through it.  The
registry notes every committed change of a handle or prefix in its change
feed (:mod:`registry.changes`); a :class:`ChangeFollower` reads the entries
after the last one it saw every :data:`POLL_SECONDS` (one indexed query, no
rows most of the time) and drops those handles from the in-process cache, a
prefix change also every referral and negative answer
(:meth:`resolver.core.stack.ResolutionStack.forget`).

This works without Redis; with Redis the publish/subscribe invalidation still
runs and is faster, the feed then only repeats what the cache already dropped.
A process that could not read the feed for longer than the feed keeps its rows
(:data:`registry.changes.RETENTION_SECONDS`) may have missed some and forgets
its whole cache instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from registry.changes import PREFIX, RETENTION_SECONDS
from registry.store import HandleStore
from resolver.core.stack import ResolutionStack

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
"""How often the feed is read: a change is seen by every process within about this."""
BATCH = 5000
"""Most entries read per query; a longer backlog is read in several queries at once."""


class ChangeFollower:
    """Applies the change feed of ``store`` to ``stack``'s in-process cache."""

    def __init__(
        self,
        store: HandleStore,
        stack: ResolutionStack,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.stack = stack
        self.clock = clock
        self.last = 0
        self.applied = 0
        self._last_read = clock()
        self._failing = False

    async def start(self) -> None:
        """Begin at the newest entry: the cache holds nothing older yet."""
        self.last = await self.store.last_change()
        self._last_read = self.clock()

    async def poll(self) -> int:
        """Read and apply every entry after the last one seen; how many there were."""
        now = self.clock()
        if now - self._last_read > RETENTION_SECONDS / 2:
            log.warning("change feed not read for %.0f s: clearing the local cache",
                        now - self._last_read)
            self.stack.reset()
            self.last = await self.store.last_change()
            self._last_read = now
            return 0
        seen = 0
        while True:
            rows = await self.store.changes_since(self.last, limit=BATCH)
            if rows:
                handles = [row.handle for row in rows]
                self.stack.forget(handles, prefixes=any(row.kind == PREFIX for row in rows))
                self.last = rows[-1].seq
                seen += len(rows)
            if len(rows) < BATCH:
                break
        self._last_read = now
        self.applied += seen
        return seen

    async def run(self, interval: float = POLL_SECONDS) -> None:
        """Poll every ``interval`` seconds until cancelled; a failed read is tried again."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.poll()
            except Exception as exc:  # the registry is down: the stale-if-error rules apply
                if not self._failing:
                    log.warning("change feed not read (trying again): %r", exc)
                self._failing = True
            else:
                self._failing = False
