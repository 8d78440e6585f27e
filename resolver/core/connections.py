"""Open-connection caps for the TCP front ends: in all, and per client.

A client (an IPv4 address or an IPv6 /64, as for rate limits:
:func:`resolver.core.ratelimit.client_key`) may hold at most ``per_client``
connections at once, and the front end at most ``total``: one client that
opens connections and sends nothing can then take only its own share, not the
whole service (issue 18 F7).  A connection over either cap is closed at once.
"""

from __future__ import annotations

import socket
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


def bind_socket(
    host: str | None, port: int, kind: socket.SocketKind, reuse_port: bool
) -> socket.socket:
    """A non-blocking socket of ``kind`` bound to ``host``:``port`` (the first address
    ``getaddrinfo`` gives; None: every address), SO_REUSEADDR set, SO_REUSEPORT too if
    ``reuse_port``, IPv6 sockets IPv6 only: the listening front ends' one way to bind."""
    info = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if info[0] == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(info[4])
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
