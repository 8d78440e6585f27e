"""What each fuzz target promises for arbitrary bytes, free of atheris.

The atheris harnesses (``fuzz_*.py``) call these functions from their
instrumented subprocess; the short pytest run replays the seed corpus and every
past finding through the same functions in-process.  A check returns quietly
when the code under test behaved (answered, or raised only its own error type)
and lets anything else escape, which the fuzzer reports as a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dns.message
import orjson

from protocol.constants import MESSAGE_ENVELOPE_SIZE
from protocol.envelope import decode_envelope
from protocol.errors import ProtocolError
from protocol.framing import TcpDeframer, UdpReassembler
from protocol.message import decode_message, encode_message
from protocol.rest_json import value_to_json, values_from_json
from protocol.value_codec import encode_values
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.dns_bridge import CLASSIC_UDP_SIZE, OUR_EDNS_PAYLOAD, DnsBridge
from resolver.http_api import RestApi, _BadRequest
from resolver.limits import DEFAULT_LIMITS
from resolver.service import ResolutionService

#: the servers' bound on one message (what a hostile length field may claim)
MESSAGE_LIMIT = DEFAULT_LIMITS.max_message_size
#: the bound the reassembler is run with, small so the fuzzer can reach it
REASSEMBLY_BYTES = 4096
DNS_ZONE = "id.fuzz."
FUZZ_HANDLE = "88.118.8/FUZZ"
DNS_FACTOR = 8


# --- Handle wire format ----------------------------------------------------------


def check_wire(data: bytes) -> None:
    """Envelope + message decoding, re-encoding, TCP deframing and UDP reassembly
    of ``data`` raise nothing but ProtocolError and respect their bounds."""
    _decode_and_reencode(data)
    _deframe(data)
    _reassemble(data)


def _decode_and_reencode(data: bytes) -> None:
    try:
        env = decode_envelope(data, MESSAGE_LIMIT)
        msg = decode_message(env, data[MESSAGE_ENVELOPE_SIZE:], MESSAGE_LIMIT)
    except ProtocolError:
        return
    with contextlib.suppress(ProtocolError):
        encode_message(msg)  # a server echoes decoded fields back


def _deframe(data: bytes) -> None:
    deframer = TcpDeframer(MESSAGE_LIMIT)
    step = max(1, data[0] if data else 1)
    try:
        for start in range(0, len(data), step):
            deframer.feed(data[start : start + step])
    except ProtocolError:
        return
    assert deframer.pending <= MESSAGE_ENVELOPE_SIZE + MESSAGE_LIMIT


def datagrams(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split ``data`` into (sender, datagram) pairs: each is one sender byte, a
    two-byte big-endian length, then that many bytes (the last may be short)."""
    pos = 0
    while pos + 3 <= len(data):
        sender, size = data[pos] & 0x03, int.from_bytes(data[pos + 1 : pos + 3], "big")
        yield sender, data[pos + 3 : pos + 3 + size]
        pos += 3 + size


def _reassemble(data: bytes) -> None:
    reassembler = UdpReassembler(
        max_pending=4, max_message_size=MESSAGE_LIMIT, max_total_bytes=REASSEMBLY_BYTES
    )
    for now, (sender, datagram) in enumerate(datagrams(data)):
        try:
            complete = reassembler.add(sender, datagram, float(now))
        except ProtocolError:
            continue
        assert len(reassembler) <= 4 and reassembler.buffered_bytes <= REASSEMBLY_BYTES
        if complete is not None:
            env, message = complete
            assert len(message) == env.message_length
            _decode_and_reencode(datagram[:MESSAGE_ENVELOPE_SIZE] + message)


# --- REST JSON -------------------------------------------------------------------


def check_rest_json(data: bytes) -> None:
    """``values_from_json`` and the REST API's PUT body parser raise only their own
    errors; what they accept can be stored (wire-encoded) and written back as JSON."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if doc is not None:
        with contextlib.suppress(ProtocolError):
            _accepted(values_from_json(doc))
    with contextlib.suppress(_BadRequest):
        _accepted(RestApi._values_from_body(FUZZ_HANDLE, data))


def _accepted(values: tuple[HandleValue, ...] | list[HandleValue]) -> None:
    try:
        encode_values(values)
    except ProtocolError:
        return  # refused at storing time, with the codec's own error
    for value in values:
        value_to_json(value)


# --- DNS bridge ------------------------------------------------------------------


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
