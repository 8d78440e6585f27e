"""Plain resolutions answered without a task (a cached record, or one read on the loop
thread) are byte-identical to the task path's answers, for every kind of request and
record; whatever would have to wait, or could differ, still goes the task path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

import protocol.message
from protocol.constants import (
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
)
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.cache import CachedImage
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack
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
    now: list[int] = []
    later: list[int] = []
    note_processing(cached, now, later)
    try:
        yield Servers(cached, in_task, now, later)
    finally:
        await cached.close()
        await in_task.close()


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
    assert answer == await ask(servers.in_task, request(BIG, 1, types=types))
    assert decoded(answer).response_code == RC_SUCCESS and servers.now == [1]
    assert decodes == ([1] if types else [])


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
