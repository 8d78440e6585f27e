"""Which identifiers this node refuses to resolve because their enterprise is suspended.

With ``suspended_resolution = "refuse"`` a handle whose owner (the owner of
its longest registered prefix, as for writes: :mod:`registry.admission`) is a
suspended enterprise resolves as if it did not exist; a sub-prefix the
operator registered to someone else stays served; with ``"serve"`` (the
default) suspension only freezes writes.  The registered prefixes are read
from the registry at start and every ``REFRESH_SECONDS`` after (``idnode
enterprise suspend`` runs in another process), so the hot path is one dict
lookup per dotted prefix level, none while no enterprise is suspended.
"""

from __future__ import annotations

import asyncio
import logging

from registry.names import name_key
from registry.store import HandleStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


class SuspendedPrefixes:
    """Registered prefix keys and whether their owner is suspended, refreshed from the
    store (empty while no enterprise is suspended)."""

    def __init__(self) -> None:
        self._registered: dict[str, bool] = {}

    def refuses(self, handle: str) -> bool:
        """True when the longest registered prefix above ``handle`` is a suspended
        enterprise's."""
        if not self._registered:
            return False
        prefix = name_key(handle.partition("/")[0])
        while True:
            suspended = self._registered.get(prefix)
            if suspended is not None:
                return suspended
            prefix, dot, _ = prefix.rpartition(".")
            if not dot:
                return False

    async def refresh(self, store: HandleStore) -> None:
        """Reload the registered prefixes and which of them suspended enterprises own."""
        suspended = {e.code for e in await store.list_enterprises() if e.status == "suspended"}
        prefixes = await store.list_prefixes() if suspended else []
        self._registered = {name_key(p.name): p.owner in suspended for p in prefixes}

    async def run(self, store: HandleStore, interval: float = REFRESH_SECONDS) -> None:
        """Refresh every ``interval`` seconds until cancelled; a failed read keeps the old set."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh(store)
            except Exception as exc:  # the store is down: keep refusing what we knew
                log.warning("suspended prefixes not refreshed: %r", exc)
