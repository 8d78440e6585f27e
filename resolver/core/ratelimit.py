"""Per-client rate limiting: one token bucket per client address, LRU-bounded.

Every front end (Handle TCP/UDP, HTTP, DNS) of one process asks the same
:class:`RateLimiter` before answering a request, so a client's budget is shared
across protocols.  A bucket holds at most ``burst`` tokens and refills at
``rate`` tokens per second; each request takes one.  At most ``max_clients``
buckets are kept: the least recently seen client is forgotten first (it comes
back with a full bucket, so the table size bounds memory, not fairness).  What
a refused request gets is the front end's business: RC_SERVER_TOO_BUSY on the
Handle protocol, HTTP 429 with Retry-After, DNS REFUSED.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by client (an IP address string).

    ``rate`` 0 (or less) turns limiting off: every request is allowed and no
    state is kept.  ``clock`` is injectable for tests of the arithmetic.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_clients = max(1, max_clients)
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0.0 if the request may go ahead, else the
        seconds until it would (the request is refused and costs nothing)."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


#: a limiter that allows everything (the default of every front end)
UNLIMITED = RateLimiter(0.0, 1)


def client_of(peer: object) -> str:
    """The rate-limiting key of a transport's peer address: its host part."""
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return "" if peer is None else str(peer)
