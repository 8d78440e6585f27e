"""Per-client rate limiting: one token bucket per client, LRU-bounded, RRL-style for UDP.

Each front end and transport has its own :class:`RateLimiter` (Handle TCP,
Handle UDP, HTTP, DNS UDP, DNS TCP: :meth:`RateLimiter.fresh` makes one with the
same settings), so a flood of spoofed UDP requests carrying a victim's address
spends only that address's UDP budget, never its TCP, HTTP or DNS one.  A
client is its IPv4 address or its IPv6 /64 (one subscriber's usual
allocation: a /128 key would let one host rotate through 2**64 fresh buckets).

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per
second; a request takes ``cost`` tokens (1, or more for dearer work).  At most
``max_clients`` buckets are kept: the least recently seen client is forgotten
first (it comes back with a full bucket, so the table size bounds memory, not
fairness).

What a refused request gets is the front end's business.  Over TCP and HTTP
the client proved its address, so it is told: RC_SERVER_TOO_BUSY on the
Handle protocol, HTTP 429 with Retry-After, DNS REFUSED.  Over UDP the address
may be forged, and a reply to every refused datagram would reflect a flood at
the victim 1:1; :meth:`RateLimiter.admit_datagram` does what DNS Response Rate
Limiting does (BIND's ``slip``): refused datagrams are dropped, except every
``slip``-th one per client, which gets a short truncated answer so a real
client behind the address retries over TCP (0 = drop them all).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_SLIP = 2


class Admission(enum.Enum):
    """What to do with one datagram: answer it, send the truncated "slip", or drop it."""

    ANSWER = "answer"
    SLIP = "slip"
    DROP = "drop"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    refused: int = 0


class RateLimiter:
    """Token buckets keyed by client (see :func:`client_key`).

    ``rate`` 0 (or less) turns limiting off: every request is allowed and no
    state is kept.  ``slip`` is the RRL slip ratio of :meth:`admit_datagram`.
    ``clock`` is injectable for tests of the arithmetic.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 65536,
        slip: int = DEFAULT_SLIP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_clients = max(1, max_clients)
        self.slip = max(0, slip)
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def fresh(self) -> RateLimiter:
        """A limiter with the same settings and buckets of its own (another budget)."""
        return RateLimiter(
            self.rate, self.burst, max_clients=self.max_clients, slip=self.slip, clock=self.clock
        )

    def share(self, parts: int) -> RateLimiter:
        """A limiter of its own with ``1/parts`` of the rate and burst, for one of
        ``parts`` processes that each see an even share of every client's requests."""
        if parts <= 1:
            return self.fresh()
        return RateLimiter(
            self.rate / parts, max(1, self.burst // parts), max_clients=self.max_clients,
            slip=self.slip, clock=self.clock,
        )

    def seconds_until_allowed(self, client: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``client``: 0.0 if the request may go ahead, else the
        seconds until it would (the request is refused and costs nothing)."""
        if not self.enabled:
            return 0.0
        bucket = self._bucket(client_key(client))
        cost = min(cost, float(self.burst))  # a dear request is slow, never impossible
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        bucket.refused += 1
        return (cost - bucket.tokens) / self.rate

    def give_back(self, client: str, cost: float = 1.0) -> None:
        """Return ``cost`` tokens :meth:`seconds_until_allowed` took for ``client`` (a
        request that will be admitted, and counted, again by another path)."""
        if not self.enabled:
            return
        bucket = self._bucket(client_key(client))
        bucket.tokens = min(float(self.burst), bucket.tokens + min(cost, float(self.burst)))

    def admit_datagram(self, client: str, cost: float = 1.0) -> Admission:
        """RRL for a UDP request: answer it, or (over the limit) slip or drop it."""
        if not self.seconds_until_allowed(client, cost):
            return Admission.ANSWER
        refused = self._buckets[client_key(client)].refused
        if self.slip and refused % self.slip == 0:
            return Admission.SLIP
        return Admission.DROP

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return bucket
        self._buckets.move_to_end(key)
        elapsed = max(0.0, now - bucket.stamp)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.stamp = now
        return bucket


#: a limiter that allows everything (the default of every front end)
UNLIMITED = RateLimiter(0.0, 1)


def client_of(peer: object) -> str:
    """The host part of a transport's peer address."""
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return "" if peer is None else str(peer)


def client_key(host: str) -> str:
    """The rate-limiting key of a client address: IPv4 as is, IPv6 by its /64
    (an IPv4-mapped IPv6 address counts as the IPv4 one)."""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.partition("%")[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return address.packed[:8].hex() + "::/64"
