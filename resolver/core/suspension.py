"""Which identifiers this node refuses to resolve because their enterprise is suspended.

With ``suspended_resolution = "refuse"`` a handle under a prefix owned by a
suspended enterprise (or under a sub-prefix of one) resolves as if it did not
exist; with ``"serve"`` (the default) suspension only freezes writes.  The set
of refused prefixes is read from the registry at start and every
``REFRESH_SECONDS`` after (``idnode enterprise suspend`` runs in another
process), so the hot path is one set lookup per dotted prefix level.
"""

from __future__ import annotations

import asyncio
import logging

from registry.names import name_key
from registry.store import HandleStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


class SuspendedPrefixes:
    """Prefix keys of suspended enterprises, refreshed from the store."""

    def __init__(self) -> None:
        self._keys: frozenset[str] = frozenset()

    def refuses(self, handle: str) -> bool:
        """True when ``handle`` lies under a suspended enterprise's prefix."""
        if not self._keys:
            return False
        prefix = name_key(handle.partition("/")[0])
        while True:
            if prefix in self._keys:
                return True
            prefix, dot, _ = prefix.rpartition(".")
            if not dot:
                return False

    async def refresh(self, store: HandleStore) -> None:
        """Reload the prefixes owned by suspended enterprises."""
        suspended = {e.code for e in await store.list_enterprises() if e.status == "suspended"}
        prefixes = await store.list_prefixes() if suspended else []
        self._keys = frozenset(name_key(p.name) for p in prefixes if p.owner in suspended)

    async def run(self, store: HandleStore, interval: float = REFRESH_SECONDS) -> None:
        """Refresh every ``interval`` seconds until cancelled; a failed read keeps the old set."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh(store)
            except Exception as exc:  # the store is down: keep refusing what we knew
                log.warning("suspended prefixes not refreshed: %r", exc)
