"""Fuzz contract of the DNS bridge: ``DnsBridge.answer`` over a real service and store.

A contract in the sense of :mod:`tests.fuzz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

import dns.message

from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.dns.bridge import CLASSIC_UDP_SIZE, OUR_EDNS_PAYLOAD, DnsBridge

DNS_ZONE = "id.fuzz."
FUZZ_HANDLE = "88.118.8/FUZZ"
DNS_FACTOR = 8



def udp_bound(query_wire: bytes) -> int:
    """The largest UDP answer the bridge may send to ``query_wire``."""
    bound = CLASSIC_UDP_SIZE
    with contextlib.suppress(Exception):  # undecodable: FORMERR, within 512
        query = dns.message.from_wire(query_wire)
        if query.edns >= 0:
            bound = min(max(query.payload, CLASSIC_UDP_SIZE), OUR_EDNS_PAYLOAD)
    return min(bound, max(CLASSIC_UDP_SIZE, DNS_FACTOR * len(query_wire)))


class DnsTarget:
    """A :class:`DnsBridge` over a real service and a temporary SQLite store, with
    its own event loop so each input is answered synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="idnode-fuzz-dns-"))
        url = f"sqlite+aiosqlite:///{self.tmp / 'registry.db'}"
        self.store = self.loop.run_until_complete(HandleStore.open(url, migrate=True))
        self.loop.run_until_complete(self._fill())
        self.service = ResolutionService(self.store)
        self.bridge = DnsBridge(self.service, zone=DNS_ZONE, amplification_factor=DNS_FACTOR)

    async def _fill(self) -> None:
        values = [
            HandleValue(1, "URL", b"https://example.com/fuzz"),
            HandleValue(2, "EMAIL", b"fuzz@example.com"),
            HandleValue(3, "NOTE", bytes(range(256)) * 4),
            *(HandleValue(i, "NOTE", b"note %d" % i) for i in range(10, 60)),
        ]
        await self.store.create_handle(FUZZ_HANDLE, values, actor="fuzz")

    def check(self, data: bytes) -> None:
        """``answer`` never raises; a UDP answer fits the size the query allows
        (512, or its EDNS payload size up to ours) and the amplification cap."""
        for udp in (True, False):
            wire = self.loop.run_until_complete(self.bridge.answer(data, udp=udp))
            if wire is not None and udp:
                assert len(wire) <= udp_bound(data), (len(wire), udp_bound(data))

    def close(self) -> None:
        """Close the store and the loop, remove the temporary files."""
        self.loop.run_until_complete(self.store.close())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
