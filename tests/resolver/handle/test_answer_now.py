"""Plain resolutions answered without a task (a cached record, or one read on the loop
thread) are byte-identical to the task path's answers, for every kind of request and
record; whatever would have to wait, or could differ, still goes the task path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

import protocol.message
from protocol.bodies import ResolutionResponse
from protocol.constants import (
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
)
from protocol.envelope import decode_envelope
from protocol.framing import encode_udp
from protocol.message import decode_message, make_response
from protocol.record_image import RecordImage, make_image
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.cache import CachedImage
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack
from resolver.handle.cold_shapes import ColdShape, ColdShapes, shape_key
from resolver.handle.hot_path import KeptDatagrams, hot_request
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import NA, TV, seed, url
from tests.resolver.handle.test_hot_path import ask, decoded, note_processing, request

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
NOW = 1_900_000_000.0
BIG = "88.118.8/BIG"
REFERRED = "88.77/X-1"


@dataclass
class Servers:
    """Two servers over cached stacks of their own: ``in_task`` always answers in a
    task (what every request got before answers without a task)."""

    cached: HandleServer
    in_task: HandleServer
    now: list[int]  # request ids the cached server answered without a task
    later: list[int]  # request ids it answered in a task


@pytest.fixture
async def servers(database: HandleStore, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[Servers]:
    monkeypatch.setattr(protocol.message.time, "time", lambda: NOW)  # response expirations
    await seed(database)
    await database.create_handle(BIG, [url(i, "u" * 300) for i in range(1, 8)], actor="test")
    await database.create_handle(
        "0.NA/88.77", [HandleValue(1, "HS_SITE", b"site of 88.77"),
                       HandleValue(2, "HS_SERV", b"0.NA/88.77", public_read=False)],
        actor="test")
    await database.add_enterprise("HAIER", "Haier", industry="appliance")
    await database.create_prefix("88.118.8", owner="HAIER")  # homed: its misses are final
    limits = Limits(udp_amplification_factor=0)
    stack = ResolutionStack(database, clock=lambda: NOW)
    cached = await run_handle_server(ResolutionService(database, limits=limits, answers=stack),
                                     "127.0.0.1", 0, limits=limits)
    in_task = await run_handle_server(
        ResolutionService(database, limits=limits,
                          answers=ResolutionStack(database, clock=lambda: NOW)),
        "127.0.0.1", 0, limits=limits)
    monkeypatch.setattr(in_task.processor, "resolve_now", lambda request: None)
    for transport in in_task.udp:  # nor laid out from a shape learned from a task's answer
        listener: Any = transport.get_protocol()
        monkeypatch.setattr(listener.shapes, "learn", lambda *args: None)
    now: list[int] = []
    later: list[int] = []
    note_processing(cached, now, later)
    try:
        yield Servers(cached, in_task, now, later)
    finally:
        await cached.close()
        await in_task.close()


@pytest.fixture
def laid(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry for every answer laid out from a shape (ColdShape.kept)."""
    made: list[int] = []
    real = ColdShape.kept

    def counted(self: ColdShape, *args: Any) -> KeptDatagrams:
        made.append(1)
        return real(self, *args)

    monkeypatch.setattr(ColdShape, "kept", counted)
    return made


Make = Callable[[int], bytes]
#: request shapes answered without a task, each with the response code it gets
AT_ONCE: dict[str, tuple[Make, int]] = {
    "all public values (a restricted one left out)": (lambda rid: request(TV, rid), RC_SUCCESS),
    "by type": (lambda rid: request(TV, rid, types=["URL"]), RC_SUCCESS),
    "by index": (lambda rid: request(TV, rid, indexes=[100]), RC_SUCCESS),
    "types and indexes": (lambda rid: request(TV, rid, types=["URL"], indexes=[101]),
                          RC_SUCCESS),
    "several datagrams": (lambda rid: request(BIG, rid), RC_SUCCESS),
    "only a restricted value, public only": (lambda rid: request(TV, rid, types=["EMAIL"]),
                                             RC_VALUES_NOT_FOUND),
    "a type the record lacks": (lambda rid: request(TV, rid, types=["HS_SITE"]),
                                RC_VALUES_NOT_FOUND),
    "a prefix handle": (lambda rid: request(NA, rid, types=["HS_ADMIN"]), RC_SUCCESS),
}


@SQLITE
@pytest.mark.parametrize("shape", AT_ONCE)
async def test_a_record_read_on_the_loop_is_answered_byte_identically(
    servers: Servers, shape: str
) -> None:
    make, code = AT_ONCE[shape]
    for rid in (1, 2):  # read from the store at once, then from the cache (or kept)
        answer = await ask(servers.cached, make(rid))
        assert answer == await ask(servers.in_task, make(rid))
        assert decoded(answer).response_code == code and decoded(answer).request_id == rid
    assert servers.now[:1] == [1] and servers.later == []


@SQLITE
@pytest.mark.parametrize("types", [(), ("URL",)])
async def test_a_record_is_answered_from_its_image_decoded_only_when_filtered(
    servers: Servers, database: HandleStore, monkeypatch: pytest.MonkeyPatch,
    types: tuple[str, ...],
) -> None:
    """A record's image is read instead of its rows (protocol/record_image.py) and a
    request for all its values is sent as the image's bytes, never decoded; one for
    some types decodes it; both as the rows would answer."""
    decodes: list[int] = []
    real_decode = CachedImage.decode

    def counted(self: CachedImage) -> tuple[HandleValue, ...]:
        decodes.append(1)
        return real_decode(self)

    def no_rows(name: str) -> None:
        raise AssertionError(f"{name} was read from its rows")

    monkeypatch.setattr(CachedImage, "decode", counted)
    monkeypatch.setattr(database, "get_handle_now", no_rows)
    answer = await ask(servers.cached, request(BIG, 1, types=types))
    assert decodes == ([1] if types else [])
    assert answer == await ask(servers.in_task, request(BIG, 1, types=types))
    assert decoded(answer).response_code == RC_SUCCESS and servers.now == [1]


@SQLITE
@pytest.mark.parametrize("name", ["88.118.8/NOPE", "99.1/NOPE", "0.NA/88.118.8.5", REFERRED])
async def test_a_miss_is_answered_at_once_once_its_prefix_is_placed(
    servers: Servers, name: str
) -> None:
    """The first miss under a prefix finds where the prefix belongs (queries that wait);
    the next one, another name under it, costs one read on the loop: a homed prefix's
    authoritative not-found, an unknown prefix's, a referral."""
    answers = []
    for rid in (1, 2, 3):
        asked = request(f"{name}-{rid}", rid)
        answer = await ask(servers.cached, asked)
        assert answer == await ask(servers.in_task, asked)
        answers.append(decoded(answer))
    expected = RC_SERVICE_REFERRAL if name == REFERRED else RC_HANDLE_NOT_FOUND
    assert [a.response_code for a in answers] == [expected] * 3
    assert servers.later == [1] and servers.now == [2, 3]


@SQLITE
async def test_a_known_miss_is_answered_from_the_negative_cache(servers: Servers) -> None:
    for rid in (1, 2, 3):
        answer = await ask(servers.cached, request("88.118.8/NOPE", rid))
        assert answer == await ask(servers.in_task, request("88.118.8/NOPE", rid))
    assert servers.later == [1] and servers.now == [2, 3]


WAITING: dict[str, tuple[Make, int]] = {
    "challenged for a restricted value": (
        lambda rid: request(TV, rid, types=["EMAIL"], public_only=False),
        RC_AUTHENTICATION_NEEDED),
    "authoritative (AT)": (lambda rid: request(TV, rid, authoritative=True), RC_SUCCESS),
    "certified": (lambda rid: request(TV, rid, types=["URL"], certify=True), RC_SUCCESS),
    "an invalid name": (lambda rid: request("no-slash", rid), RC_HANDLE_NOT_FOUND),
}


@SQLITE
@pytest.mark.parametrize("shape", WAITING)
async def test_requests_the_loop_may_not_answer_at_once_go_the_task_path(
    servers: Servers, shape: str
) -> None:
    make, code = WAITING[shape]
    answer = decoded(await ask(servers.cached, make(1)))
    assert answer.request_id == 1
    if shape != "an invalid name":
        assert answer.response_code == code
    assert servers.now == [] and servers.later == [1]


@SQLITE
async def test_a_read_that_would_wait_goes_the_task_path(
    servers: Servers, database: HandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "_point_read_now", lambda sql, params: None)  # e.g. locked
    answer = await ask(servers.cached, request(TV, 1))
    assert answer == await ask(servers.in_task, request(TV, 1))
    assert servers.now == [] and servers.later == [1]


@SQLITE
async def test_requests_of_a_learned_shape_are_laid_out_byte_identically(
    servers: Servers, database: HandleStore, laid: list[int]
) -> None:
    """The first plain request for all values teaches its shape; later requests of that
    shape for other records are laid out from it without being decoded
    (resolver/handle/cold_shapes.py), byte for byte as the task path answers them; a
    record someone may not read whole, or a miss, is answered from its resolution."""
    for n in range(3):  # one datagram, two, three
        await database.create_handle(f"88.118.8/W{n}", [url(i, "w" * 300 * n)
                                                        for i in range(1, 3)], actor="test")
    names = [BIG, "88.118.8/W0", "88.118.8/W1", "88.118.8/W2", TV, "88.118.8/NOPE", NA]
    for rid, name in enumerate(names, 1):
        answer = await ask(servers.cached, request(name, rid))
        assert answer == await ask(servers.in_task, request(name, rid)), name
        assert decoded(answer).request_id == rid
    # BIG taught the shape (laid out once to check it), W0-W2 were laid out from it;
    # TV (a restricted value), NOPE and the prefix handle were resolved, not laid out;
    # the miss under a prefix not placed yet waited (in a task of its shape: the
    # processor made only the first answer)
    assert len(laid) == 4 and servers.now == [1] and servers.later == []
    for rid, name in enumerate(names[1:4], 20):  # kept since: replayed
        answer = await ask(servers.cached, request(name, rid))
        assert answer == await ask(servers.in_task, request(name, rid))
    assert len(laid) == 4


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
async def test_a_shaped_request_whose_read_waits_is_laid_out_in_a_task(
    servers: Servers, database: HandleStore, monkeypatch: pytest.MonkeyPatch, laid: list[int]
) -> None:
    """A request of a learned shape whose record cannot be read at once (a SQLite read
    that would wait; every PostgreSQL read) is resolved in a task and answered byte for
    byte as the task path answers, without the request being decoded (never through
    the processor) when the record is one anyone may read whole; others (a restricted
    value left out, a miss) are answered from their resolution, a request that is not
    public-only for a restricted record is challenged.  On PostgreSQL the shapes are
    learned from answers made in tasks."""
    for n in range(3):
        await database.create_handle(f"88.118.8/W{n}", [url(i, "w" * 300 * n)
                                                        for i in range(1, 3)], actor="test")
    for rid, public_only in ((1, True), (2, False)):  # teach both shapes
        answer = await ask(servers.cached, request(BIG, rid, public_only=public_only))
        assert answer == await ask(servers.in_task, request(BIG, rid, public_only=public_only))
    assert len(laid) == 2  # each laid out once, to check it
    if database.dialect == "sqlite":
        assert servers.now == [1, 2]
        monkeypatch.setattr(database, "_point_read_now", lambda sql, params: None)
    else:  # read in a task, then cached
        assert servers.later == [1] and servers.now == [2]
    servers.now.clear()
    servers.later.clear()
    names = ["88.118.8/W0", "88.118.8/W1", "88.118.8/W2", TV, "88.118.8/NOPE"]
    for rid, name in enumerate(names, 10):
        answer = await ask(servers.cached, request(name, rid))
        assert answer == await ask(servers.in_task, request(name, rid)), name
        assert decoded(answer).request_id == rid
    assert len(laid) == 2 + 3  # W0-W2 laid out in tasks; TV (withheld) and NOPE not
    challenged = decoded(await ask(servers.cached, request(TV, 30, public_only=False)))
    assert (challenged.response_code, challenged.request_id) == (RC_AUTHENTICATION_NEEDED, 30)
    assert servers.now == [] and servers.later == []  # none went through the processor
    for rid, name in enumerate(names[:3], 20):  # kept since: replayed
        answer = await ask(servers.cached, request(name, rid))
        assert answer == await ask(servers.in_task, request(name, rid))
    assert len(laid) == 5


def test_only_plain_requests_for_all_values_have_a_shape() -> None:
    def key(datagram: bytes) -> bytes | None:
        hot = hot_request(datagram)
        assert hot is not None
        return shape_key(datagram, hot)

    plain = key(request(TV, 1))
    assert plain is not None and plain == key(request(BIG, 2))  # any handle, any id
    assert key(request(TV, 1, public_only=False)) not in (None, plain)
    for other in (request(TV, 1, types=["URL"]), request(TV, 1, indexes=[1]),
                  request(TV, 1, certify=True), request(TV, 1, authoritative=True)):
        assert key(other) is None
    not_recursive = bytearray(request(TV, 1))
    not_recursive[28] &= ~0x10  # MSG_FLAG_RECU, which requests carry by default
    assert key(bytes(not_recursive)) not in (None, plain)
    digest = bytearray(request(TV, 1))
    digest[29] |= 0x80  # MSG_FLAG_RRDG
    assert key(bytes(digest)) is None
    longer = bytearray(request(TV, 1))
    longer[43] += 1  # a body length that disagrees with the body
    assert key(bytes(longer)) is None


def test_a_shape_is_learned_only_when_it_lays_out_the_answer_it_came_from() -> None:
    values = (url(1, "a"), url(2, "b"))
    image = RecordImage.read(make_image(values))
    assert image is not None
    datagram = request(TV, 7)
    hot = hot_request(datagram)
    assert hot is not None
    key = shape_key(datagram, hot)
    asked = decode_message(decode_envelope(datagram), datagram[20:])
    shapes = ColdShapes()
    plain = make_response(asked, RC_SUCCESS, ResolutionResponse(TV, values))
    shapes.learn(key, TV, plain, encode_udp(plain))  # not an image: nothing to lay out
    assert shapes.get(key) is None
    signed = make_response(asked, RC_SUCCESS, ResolutionResponse(TV, image))
    signed.signature = b"sig"
    shapes.learn(key, TV, signed, encode_udp(signed))
    assert shapes.get(key) is None
    response = make_response(asked, RC_SUCCESS, ResolutionResponse(TV, image))
    full = encode_udp(response)
    shapes.learn(key, TV, response, [full[0][:-1] + b"x"])  # not what it lays out
    assert shapes.get(key) is None
    shapes.learn(key, TV, response, full)
    shape = shapes.get(key)
    assert shape is not None
    assert shape.kept(TV.encode(), image.wire).pieces() == KeptDatagrams(full,
                                                                         response).pieces()


@pytest.mark.parametrize("size", [0, 1, 300, 420, 421, 422, 423, 500, 913, 914, 915, 4000])
def test_a_laid_out_answer_is_kept_as_its_datagrams_are(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values of every length around the datagram boundaries (one datagram, exactly full,
    two, three, many): the answer laid out from a shape keeps the same pieces as keeping
    the datagrams that encode_udp cuts from the response, and replays the same bytes."""
    monkeypatch.setattr(protocol.message.time, "time", lambda: NOW)  # replays' expiration
    values = (url(1, "v" * size), url(2, "w"))
    image = RecordImage.read(make_image(values))
    assert image is not None
    datagram = request(TV, 7)
    asked = decode_message(decode_envelope(datagram), datagram[20:])
    response = make_response(asked, RC_SUCCESS, ResolutionResponse(TV, image))
    full = encode_udp(response)
    shapes = ColdShapes()
    hot = hot_request(datagram)
    assert hot is not None
    key = shape_key(datagram, hot)
    shapes.learn(key, TV, response, full)
    shape = shapes.get(key)
    assert shape is not None
    kept, expected = shape.kept(TV.encode(), image.wire), KeptDatagrams(full, response)
    assert kept.pieces() == expected.pieces()
    assert kept.replay(b"\0\0\0\x09") == expected.replay(b"\0\0\0\x09")
    assert b"".join(kept.replay(b"\0\0\0\x09")) == kept.replay_joined(b"\0\0\0\x09")
    assert len(kept.replay(b"1234")) == len(full)
