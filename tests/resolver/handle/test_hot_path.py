"""The UDP fast path: kept datagrams are byte-identical to fresh answers, skip the
request processor, count as answers, and go away with the record they were made from."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest

import protocol.message
from protocol.bodies import ResolutionRequest, ResolutionResponse
from protocol.constants import (
    MAX_UDP_DATA_SIZE,
    OC_RESOLUTION,
    RC_AUTHENTICATION_NEEDED,
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_SUCCESS,
)
from protocol.framing import UdpReassembler, encode_udp
from protocol.message import Message, decode_message, response_expiration
from registry.names import name_key
from registry.store import HandleStore
from resolver.core.hot import HotAnswers
from resolver.core.limits import Limits
from resolver.core.model import Caller
from resolver.core.ratelimit import UNLIMITED, RateLimiter
from resolver.core.service import ResolutionService
from resolver.core.stack import LOCAL, ResolutionStack
from resolver.core.suspension import SuspendedPrefixes
from resolver.handle.amplification import use_tcp_reply
from resolver.handle.hot_path import KeptDatagrams, hot_request, short_pieces
from resolver.handle.server import HandleServer, _UdpServer, run_handle_server
from tests.resolver.core.test_untracked import tracked_within
from tests.resolver.handle.test_handle_support import NA, TV, seed, url

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
ADMIN = (NA, 300)
NOW = 1_900_000_000.0


@dataclass
class Pair:
    """One server over a cached stack, one over the bare store (every answer fresh)."""

    cached: HandleServer
    uncached: HandleServer
    stack: ResolutionStack
    service: ResolutionService
    processed: list[int]


@pytest.fixture
async def pair(database: HandleStore, monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    """Servers with the UDP amplification factor and rate limiter ``request.param``
    (default: no cap, no limit)."""
    factor, limiter = getattr(request, "param", (0, UNLIMITED))
    monkeypatch.setattr(protocol.message.time, "time", lambda: NOW)  # response expirations
    await seed(database)
    await database.create_handle(
        "88.118.8/BIG", [url(i, "u" * 300) for i in range(1, 8)], actor="test"
    )
    limits = Limits(udp_amplification_factor=factor)
    stack = ResolutionStack(database, clock=lambda: NOW)
    service = ResolutionService(database, limits=limits, server_admins=[ADMIN], answers=stack)
    cached = await run_handle_server(service, "127.0.0.1", 0, limits=limits,
                                     rate_limiter=limiter)
    uncached = await run_handle_server(ResolutionService(database, limits=limits), "127.0.0.1",
                                       0, limits=limits)
    processed: list[int] = []
    note_processing(cached, processed, processed)
    try:
        yield Pair(cached, uncached, stack, service, processed)
    finally:
        await cached.close()
        await uncached.close()


def note_processing(server: HandleServer, now: list[int], later: list[int]) -> None:
    """Note the id of each request ``server``'s processor answers: in ``now`` when it
    answered without a task (:meth:`RequestProcessor.resolve_now`), else in ``later``."""
    process, resolve_now = server.processor.process, server.processor.resolve_now

    async def in_task(request: Message, *, spoofable: bool = False) -> list[Message]:
        later.append(request.request_id)
        return await process(request, spoofable=spoofable)

    def at_once(request: Message) -> Message | None:
        response = resolve_now(request)
        if response is not None:
            now.append(request.request_id)
        return response

    server.processor.process = in_task  # type: ignore[method-assign]
    server.processor.resolve_now = at_once  # type: ignore[method-assign]


def request(handle: str, request_id: int, types: Sequence[str] = (), indexes: Sequence[int] = (),
            public_only: bool = True, certify: bool = False,
            authoritative: bool = False) -> bytes:
    msg = Message(OC_RESOLUTION, body=ResolutionRequest(handle, tuple(indexes), tuple(types)),
                  request_id=request_id)
    msg.public_only = public_only
    msg.certify = certify
    msg.authoritative = authoritative
    (datagram,) = encode_udp(msg)
    return datagram


def exchange(port: int, datagram: bytes) -> list[bytes]:
    """Every datagram of the answer to ``datagram``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(datagram, ("127.0.0.1", port))
        first = sock.recv(65536)
        pieces = max(1, -(-int.from_bytes(first[16:20], "big") // MAX_UDP_DATA_SIZE))
        return [first] + [sock.recv(65536) for _ in range(pieces - 1)]


async def ask(server: HandleServer, datagram: bytes) -> list[bytes]:
    return await asyncio.to_thread(exchange, server.port, datagram)


def decoded(datagrams: list[bytes]) -> Message:
    reassembler = UdpReassembler()
    for datagram in datagrams:
        complete = reassembler.add("peer", datagram, time.monotonic())
    assert complete is not None
    return decode_message(*complete)


VARIANTS: dict[str, Callable[[int], bytes]] = {
    "all public values": lambda rid: request(TV, rid),
    "by type": lambda rid: request(TV, rid, types=["URL"]),
    "by index": lambda rid: request(TV, rid, indexes=[100]),
    "several datagrams": lambda rid: request("88.118.8/BIG", rid),
    "unsigned certify": lambda rid: request(TV, rid, types=["URL"], certify=True),
}


@SQLITE
@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_kept_answer_is_byte_identical_to_a_fresh_one(pair: Pair, variant: str) -> None:
    make = VARIANTS[variant]
    await ask(pair.cached, make(1))  # fetched: the record cached, its datagrams kept
    assert pair.processed == [1]
    kept = await ask(pair.cached, make(3))
    assert pair.processed == [1]  # answered without the request processor
    assert kept == await ask(pair.uncached, make(3))
    assert decoded(kept).request_id == 3 and decoded(kept).response_code == RC_SUCCESS
    assert (len(kept) > 1) == (variant == "several datagrams")


class CountingSocket:
    """A listener's socket that counts the segmented sends made on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.type, self.calls = sock, sock.type, 0

    def sendmsg(self, *args: Any) -> int:
        self.calls += 1
        return self.sock.sendmsg(*args)


def count_segmented_sends(server: HandleServer) -> CountingSocket:
    listener = cast(_UdpServer, server.udp[0].get_protocol())
    assert listener.sender.sock is not None
    counting = CountingSocket(listener.sender.sock)
    listener.sender.sock = cast(socket.socket, counting)
    return counting


@SQLITE
async def test_answers_sent_in_one_call_are_the_datagrams_sent_one_by_one(
    pair: Pair, database: HandleStore
) -> None:
    """UDP segmentation (:mod:`resolver.handle.udp_send`) changes the server's cost, not
    the bytes: a kept and a fresh answer of several datagrams, each sent in one call, are
    what a server sending one datagram a call sends."""
    one_by_one = await run_handle_server(pair.service, "127.0.0.1", 0,
                                         limits=pair.cached.processor.limits,
                                         udp_segmentation=False)
    try:
        off = cast(_UdpServer, one_by_one.udp[0].get_protocol())
        assert off.sender.sock is None and not off.sender.segmenting
        counting = count_segmented_sends(pair.cached)
        big = "88.118.8/BIG"
        fresh = await ask(pair.cached, request(big, 1))
        kept = await ask(pair.cached, request(big, 2))
        assert pair.processed == [1] and len(kept) == len(fresh) > 2
        assert counting.calls == 2  # the fresh answer and the kept one, one call each
        assert kept == await ask(one_by_one, request(big, 2))
        assert fresh == await ask(pair.uncached, request(big, 1))
        assert await ask(pair.cached, request(TV, 3)) == await ask(one_by_one, request(TV, 3))
        assert counting.calls == 2  # a one-datagram answer goes through the transport
    finally:
        await one_by_one.close()


@SQLITE
@pytest.mark.parametrize("pair", [(16, UNLIMITED)], indirect=True)
async def test_the_amplification_cap_applies_to_kept_answers(pair: Pair) -> None:
    for rid in (1, 2, 3):  # 2.5 KB answer to a 60-byte request from an unproven address
        kept = await ask(pair.cached, request("88.118.8/BIG", rid))
    assert pair.processed == [1]
    assert kept == await ask(pair.uncached, request("88.118.8/BIG", 3))
    assert decoded(kept).response_code == RC_ERROR and decoded(kept).request_id == 3
    small = [await ask(pair.cached, request(TV, rid, types=["URL"])) for rid in (4, 5, 6)]
    assert decoded(small[-1]).response_code == RC_SUCCESS and pair.processed == [1, 4]


@SQLITE
@pytest.mark.parametrize("pair", [(0, RateLimiter(0.001, 4, slip=1))], indirect=True)
async def test_the_rate_limit_applies_to_kept_answers(pair: Pair) -> None:
    answers = [decoded(await ask(pair.cached, request(TV, rid, types=["URL"])))
               for rid in range(1, 7)]
    assert [a.response_code for a in answers] == [RC_SUCCESS] * 4 + [RC_ERROR] * 2  # slips
    assert pair.processed == [1]


@SQLITE
async def test_answers_from_kept_datagrams_are_counted(pair: Pair) -> None:
    for rid in range(1, 6):
        await ask(pair.cached, request(TV, rid))
    assert pair.processed == [1]
    assert pair.stack.counters == {"memory_misses": 1, "memory_hits": 4}


@SQLITE
async def test_a_write_drops_the_kept_datagrams(pair: Pair) -> None:
    for rid in (1, 2, 3):
        await ask(pair.cached, request(TV, rid, types=["URL"]))
    assert pair.processed == [1]
    new = url(1, "https://example.test/tv/new")
    await pair.service.modify_values(TV, [new], caller=Caller(NA, 300))
    answer = decoded(await ask(pair.cached, request(TV, 4, types=["URL"])))
    assert pair.processed[-1] == 4  # not from the kept datagrams of the old record
    assert isinstance(answer.body, ResolutionResponse)
    assert [v.data for v in answer.body.values] == [new.data]
    for rid in (5, 6):
        kept = await ask(pair.cached, request(TV, rid, types=["URL"]))
    assert pair.processed == [1, 4]
    assert kept == await ask(pair.uncached, request(TV, 6, types=["URL"]))


@SQLITE
async def test_authoritative_requests_are_answered_from_the_store_never_from_a_cache(
    pair: Pair, database: HandleStore
) -> None:
    """The AT flag (what ``idnode resolve --verify --fresh`` sets): a record written behind
    the cache's back is seen at once, while plain requests keep getting the cached copy."""
    for rid in (1, 2):
        await ask(pair.cached, request(TV, rid, types=["URL"]))
    new = url(1, "https://example.test/tv/elsewhere")
    await database.upsert_values(TV, [new], actor="another process")  # no invalidation here
    plain = decoded(await ask(pair.cached, request(TV, 3, types=["URL"])))
    assert isinstance(plain.body, ResolutionResponse)
    assert new.data not in [v.data for v in plain.body.values]  # the kept, cached answer
    for rid in (4, 5):
        fresh = decoded(await ask(pair.cached, request(TV, rid, types=["URL"],
                                                      authoritative=True)))
        assert isinstance(fresh.body, ResolutionResponse)
        assert [v.data for v in fresh.body.values] == [new.data]
    assert pair.processed == [1, 4, 5]  # AT answers are processed every time, never kept
    after = decoded(await ask(pair.cached, request(TV, 6, types=["URL"])))
    assert isinstance(after.body, ResolutionResponse)  # the refresh replaced the cached copy
    assert [v.data for v in after.body.values] == [new.data]


@SQLITE
async def test_a_fetched_answer_is_kept_only_when_nothing_was_dropped_meanwhile(
    pair: Pair,
) -> None:
    hot = HotAnswers(pair.service)
    mark = hot.mark()
    await pair.service.resolve(TV)
    fetched = hot.added_since(TV, mark)
    assert fetched is not None and fetched is hot.lookup(TV)
    mark = hot.mark()
    pair.stack.forget([TV])  # a write elsewhere: the answer fetched next may be older
    await pair.service.resolve(TV)
    assert hot.added_since(TV, mark) is None
    assert hot.added_since(TV, hot.mark()) is not None


@SQLITE
async def test_challenges_are_never_kept(pair: Pair) -> None:
    for rid in (1, 2, 3):  # a restricted value withheld from an anonymous caller: challenged
        answer = decoded(await ask(pair.cached, request(TV, rid, public_only=False)))
        assert answer.response_code == RC_AUTHENTICATION_NEEDED
    assert pair.processed == [1, 2, 3]


def test_only_single_datagram_resolutions_outside_sessions_qualify() -> None:
    plain = request(TV, 7)
    found = hot_request(plain)
    assert found is not None and found.handle == TV
    assert found.form == plain[:8] + plain[12:]
    assert hot_request(request(TV, 8)) == found  # the id is not part of the form
    in_session = plain[:4] + (5).to_bytes(4, "big") + plain[8:]
    assert hot_request(in_session) is None
    assert hot_request(plain[:-1]) is None  # shorter than its envelope says
    other_op = plain[:20] + (2).to_bytes(4, "big") + plain[24:]
    assert hot_request(other_op) is None


@SQLITE
async def test_a_suspended_prefix_is_never_answered_from_kept_datagrams(pair: Pair) -> None:
    store = pair.service.store
    await store.add_enterprise("HAIER", "Haier", industry="appliance")
    await store.create_prefix("88.118.8", owner="HAIER")
    pair.service.suspended = SuspendedPrefixes()
    await pair.service.suspended.refresh(store)
    for rid in (1, 2, 3):
        assert decoded(await ask(pair.cached, request(TV, rid))).response_code == RC_SUCCESS
    assert pair.processed == [1]
    await store.set_enterprise_status("HAIER", "suspended")
    await pair.service.suspended.refresh(store)
    refused = decoded(await ask(pair.cached, request(TV, 4)))
    assert refused.response_code == RC_HANDLE_NOT_FOUND and pair.processed == [1, 4]


def test_a_kept_use_tcp_reply_is_the_one_made_for_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The use-TCP reply's pieces are shared by answers to the same kind of request:
    replayed under any id it is exactly the reply made for that answer."""
    monkeypatch.setattr(protocol.message.time, "time", lambda: NOW)
    answers = []
    for rid, values, flags in ((1, 1, 0), (2, 9, 0x0C000000), (3, 4, 0x40000000)):
        body = ResolutionResponse(TV, tuple(url(i, "u" * 100) for i in range(1, values + 1)))
        response = Message(OC_RESOLUTION, RC_SUCCESS, body=body, request_id=rid, flags=flags,
                           expiration=response_expiration(), recursion_count=rid % 2)
        answers.append(response)
        kept = KeptDatagrams(encode_udp(response), response)
        assert kept.replay_short(rid.to_bytes(4, "big")) == use_tcp_reply(response)
        assert kept.charge == kept.size + len(use_tcp_reply(response))
    assert short_pieces(answers[0]) is not short_pieces(answers[1])  # recursion count differs
    assert short_pieces(answers[0]) is short_pieces(answers[2])


@pytest.mark.parametrize("values", [1, 4, 9])
def test_a_kept_answer_laid_end_to_end_is_its_datagrams(
    monkeypatch: pytest.MonkeyPatch, values: int
) -> None:
    """What one segmented send carries is the datagrams of :meth:`KeptDatagrams.replay`,
    cut at the size :attr:`KeptDatagrams.segment` names (0: one datagram, sent as such)."""
    monkeypatch.setattr(protocol.message.time, "time", lambda: NOW)
    body = ResolutionResponse(TV, tuple(url(i, "u" * 150) for i in range(1, values + 1)))
    response = Message(OC_RESOLUTION, RC_SUCCESS, body=body, request_id=1,
                       expiration=response_expiration())
    kept = KeptDatagrams(encode_udp(response), response)
    replayed = kept.replay((77).to_bytes(4, "big"))
    assert kept.replay_joined((77).to_bytes(4, "big")) == b"".join(replayed)
    if len(replayed) == 1:
        assert kept.segment == 0
    else:
        assert kept.segment == len(replayed[0])
        joined = b"".join(replayed)
        cut = [joined[i:i + kept.segment] for i in range(0, len(joined), kept.segment)]
        assert cut == replayed


@SQLITE
@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_cached_record_and_its_kept_datagrams_are_out_of_the_collectors_sight(
    pair: Pair, variant: str
) -> None:
    make = VARIANTS[variant]
    await ask(pair.cached, make(1))  # fetched: the record cached, its datagrams kept
    handle = "88.118.8/BIG" if variant == "several datagrams" else TV
    answer = pair.stack.local.get(LOCAL + name_key(handle))
    assert answer is not None and answer.renders
    for _ in range(2):  # tuples of bytes (in tuples) inside the kept datagrams: the
        gc.collect()  # collector's own passes untrack them, one level a pass
    assert tracked_within(answer) == []
    assert await ask(pair.cached, make(2)) == await ask(pair.uncached, make(2))
    assert pair.processed == [1]
