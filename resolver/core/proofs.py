"""Client addresses that proved they are real: a TCP handshake completed from them lately.

A UDP request's source address can be forged, a TCP connection's cannot (the
handshake needs the server's answer to reach the address).  The UDP front ends
let a proven address draw answers up to their floor (``udp_answer_floor``)
while any other address gets at most ``udp_amplification_factor`` times its
request: a real client that was sent to TCP once gets its later UDP answers
whole, a forged flood never gets more than the factor.  This plays the part
of DNS cookies (RFC 7873) for the Handle protocol, which has none.

Per process and per front end, LRU-bounded (``max_addresses``), each proof
good for ``lifetime`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_LIFETIME = 3600.0


class ProvenAddresses:
    """The addresses that completed a TCP handshake in the last ``lifetime`` seconds."""

    def __init__(
        self,
        lifetime: float = DEFAULT_LIFETIME,
        max_addresses: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.max_addresses = max(1, max_addresses)
        self.clock = clock
        self._until: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def prove(self, address: str) -> None:
        """``address`` just completed a TCP handshake."""
        self._until[address] = self.clock() + self.lifetime
        self._until.move_to_end(address)
        if len(self._until) > self.max_addresses:
            self._until.popitem(last=False)

    def __contains__(self, address: object) -> bool:
        until = self._until.get(address) if isinstance(address, str) else None
        if until is None:
            return False
        if until < self.clock():
            del self._until[address]  # type: ignore[arg-type]
            return False
        return True
