"""Record data of handle values rendered once, while the values stay in the cache.

The DNS bridge answers from the resolution service, whose cache hands out the
same value objects for every request of a cached record.  Rendering a value's
TXT record (the printable check, base64, the character strings, then dnspython's
wire encoding of each string) was most of the cost of a cached TXT answer
(~550 us for a demo product, issue 17).  A value with a relative TTL renders the
same every time, so :class:`RenderedValues` keeps its record data in wire form
(:class:`dns.rdata.GenericRdata`, written out as it is: the same bytes), keyed
by the value object and kept with it, bounded in bytes (oldest out first).
Values with an absolute TTL carry the seconds left in their text and are
rendered for every answer.  Written here because dnspython has no cache of
rendered rdata; an :class:`~collections.OrderedDict` is the whole of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import cast

import dns.rdata

from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue

#: bytes of rendered record data (and of the values they belong to) kept per process
DEFAULT_MAX_BYTES = 8 << 20
#: charged per entry besides the data: the dict slot, the objects
ENTRY_OVERHEAD = 200

Render = Callable[[HandleValue], dns.rdata.Rdata | None]


class RenderedValues:
    """Rendered record data by value object, bounded to ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._kept: OrderedDict[tuple[int, int], tuple[HandleValue, dns.rdata.Rdata | None, int]]
        self._kept = OrderedDict()

    def get(self, value: HandleValue, rdtype: int, render: Render) -> dns.rdata.Rdata | None:
        """``render(value)`` (a record of type ``rdtype``, or None), from the kept
        wire form when ``value`` was rendered before and renders the same every time."""
        if value.ttl_type == TTL_TYPE_ABSOLUTE:
            return render(value)
        key = (id(value), rdtype)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is value:  # the same object: ids are not reused
            self._kept.move_to_end(key)
            return kept[1]
        rdata = render(value)
        if rdata is not None:  # TXT and URI data hold no names: no compression to lose
            wire = cast(bytes, rdata.to_wire())
            rdata = dns.rdata.GenericRdata(rdata.rdclass, rdata.rdtype, wire)
        self._keep(key, value, rdata)
        return rdata

    def _keep(self, key: tuple[int, int], value: HandleValue,
              rdata: dns.rdata.Rdata | None) -> None:
        wire = rdata.data if isinstance(rdata, dns.rdata.GenericRdata) else b""
        cost = len(wire) + len(value.data) + len(value.type) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        old = self._kept.pop(key, None)
        if old is not None:
            self.size -= old[2]
        self._kept[key] = (value, rdata, cost)
        self.size += cost
        while self.size > self.max_bytes:
            _, (_, _, gone) = self._kept.popitem(last=False)
            self.size -= gone

    def __len__(self) -> int:
        return len(self._kept)
