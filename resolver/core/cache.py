"""The in-process answer cache: a size-bounded LRU of resolution answers.

An :class:`Answer` is what the resolution stack knows about one handle: its
full record (``FOUND``; never filtered for a caller, so read permissions are
applied per request), that it does not exist (``ABSENT``), or where to ask
instead (``REFERRAL``, with the HS_SITE/HS_SERV values).  An answer carries an
absolute expiry time: the smallest TTL of its values (relative TTLs counted
from when it was fetched, absolute TTLs as written), or ``negative_ttl`` for
an answer without values.

:class:`LocalCache` keeps answers past their expiry for ``stale_window``
seconds so that :meth:`LocalCache.get_stale` can serve them when the upstream
fails (stale-if-error); :meth:`LocalCache.get` returns fresh answers only.
The clock is injected (``time.time`` by default) so tests control expiry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue

Clock = Callable[[], float]


class Kind(Enum):
    """What an answer says about its handle."""

    FOUND = 1
    ABSENT = 2
    REFERRAL = 3


@dataclass(frozen=True, slots=True)
class Answer:
    """One cached answer; ``expires`` is in clock seconds (epoch by default).

    ``authoritative`` is false for an ``ABSENT`` answer about a handle under no
    prefix this node knows (a recursive request then asks the root).
    ``source`` names where the answer came from (``local`` or ``host:port``)
    and ``chain`` the hops a recursive resolution took.
    """

    kind: Kind
    values: tuple[HandleValue, ...]
    expires: float
    source: str = "local"
    chain: tuple[str, ...] = ()
    authoritative: bool = True
    stale: bool = False


def expiry(values: Sequence[HandleValue], now: float, negative_ttl: float) -> float:
    """When an answer made of ``values`` at ``now`` stops being fresh.

    The smallest TTL wins; an absolute TTL is an expiry time in epoch seconds.
    Without values the answer lives ``negative_ttl`` seconds.
    """
    if not values:
        return now + negative_ttl
    return min(
        float(v.ttl) if v.ttl_type == TTL_TYPE_ABSOLUTE else now + v.ttl for v in values
    )


class LocalCache:
    """A size-bounded LRU of answers keyed by string; not thread-safe (one event loop)."""

    def __init__(self, max_size: int, *, stale_window: float = 0.0, clock: Clock = time.time):
        self.max_size = max_size
        self.stale_window = stale_window
        self.clock = clock
        self._entries: OrderedDict[str, Answer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Answer | None:
        """The fresh answer under ``key``, or None (an expired one stays for get_stale)."""
        answer = self._entries.get(key)
        if answer is None or answer.expires <= self.clock():
            return None
        self._entries.move_to_end(key)
        return answer

    def get_stale(self, key: str) -> Answer | None:
        """The answer under ``key`` if it expired less than ``stale_window`` seconds ago."""
        answer = self._entries.get(key)
        if answer is None:
            return None
        if answer.expires + self.stale_window <= self.clock():
            del self._entries[key]
            return None
        return answer

    def put(self, key: str, answer: Answer) -> None:
        """Store ``answer`` (if it is still worth keeping), evicting the least recently used."""
        if self.max_size <= 0 or answer.expires + self.stale_window <= self.clock():
            return
        self._entries[key] = answer
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def drop(self, keys: Sequence[str]) -> None:
        """Forget ``keys``."""
        for key in keys:
            self._entries.pop(key, None)

    def drop_matching(self, match: Callable[[str, Answer], bool]) -> int:
        """Forget every entry ``match`` accepts (a full scan: for rare prefix changes)."""
        doomed = [key for key, answer in self._entries.items() if match(key, answer)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (after missing invalidations, e.g. a lost Redis subscription)."""
        self._entries.clear()
