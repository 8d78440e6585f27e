"""Open-connection caps for the TCP front ends: in all, and per client.

A client (an IPv4 address or an IPv6 /64, as for rate limits:
:func:`resolver.core.ratelimit.client_key`) may hold at most ``per_client``
connections at once, and the front end at most ``total``: one client that
opens connections and sends nothing can then take only its own share, not the
whole service (issue 18 F7).  A connection over either cap is closed at once.
"""

from __future__ import annotations

from collections import Counter

from resolver.core.ratelimit import client_key


class ConnectionGate:
    """Counts open connections per client; :meth:`admit` before serving, :meth:`release` after.

    ``per_client`` 0 means no per-client cap.
    """

    def __init__(self, total: int, per_client: int = 0) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self._by_client: Counter[str] = Counter()

    def admit(self, client: str) -> str | None:
        """The key to :meth:`release` when done, or None: the connection must be closed."""
        if self.open >= self.total:
            return None
        key = client_key(client)
        if self.per_client and self._by_client[key] >= self.per_client:
            return None
        self.open += 1
        self._by_client[key] += 1
        return key

    def release(self, key: str) -> None:
        """A connection :meth:`admit` let in (under ``key``) has ended."""
        self.open -= 1
        self._by_client[key] -= 1
        if self._by_client[key] <= 0:
            del self._by_client[key]

    def held_by(self, client: str) -> int:
        """How many connections ``client`` holds now."""
        return self._by_client.get(client_key(client), 0)
