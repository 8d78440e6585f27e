"""DnsBridge.answer without sockets: record encoding and the edge cases a store rarely yields."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

import resolver.dns.bridge
from protocol.constants import RC_ERROR, RC_INVALID_HANDLE, RC_SUCCESS
from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue
from resolver.core.model import Resolution, ServiceError
from resolver.dns.bridge import DnsBridge, _txt, value_ttl
from resolver.dns.names import handle_to_name
from resolver.dns.rendered import ENTRY_OVERHEAD, RenderedValues

ZONE = "id.example."
HANDLE = "88.118.8/TV-0001"


class StubService:
    """Answers every handle with one fixed outcome (a Resolution or an exception)."""

    def __init__(self, outcome: Resolution | Exception) -> None:
        self.outcome = outcome
        self.asked: list[tuple[str, bool]] = []

    async def resolve(self, handle: str, *, recursive: bool = False) -> Resolution:
        self.asked.append((handle, recursive))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _found(*values: HandleValue, authoritative: bool = True) -> Resolution:
    return Resolution(HANDLE, RC_SUCCESS, values, authoritative=authoritative)


async def _ask(
    service: StubService, rdtype: str = "TXT", *, recursive: bool = False
) -> dns.message.Message:
    bridge = DnsBridge(service, zone=ZONE, recursive=recursive)
    query = dns.message.make_query(handle_to_name(HANDLE, ZONE), rdtype)
    wire = await bridge.answer(query.to_wire(), udp=False)
    assert wire is not None
    return dns.message.from_wire(wire)


async def test_long_values_continue_in_further_strings() -> None:
    data = "é".encode() * 300
    response = await _ask(StubService(_found(HandleValue(2, "DESC", data))))
    (record,) = response.answer[0]
    assert all(len(s) <= 255 for s in record.strings)
    assert record.strings[:3] == (b"index=2", b"type=DESC", b"ttl=86400")
    assert b"".join(record.strings[3:]) == b"value=" + data


async def test_values_whose_type_does_not_fit_a_string_are_left_out() -> None:
    values = (HandleValue(1, "T" * 251, b"x"), HandleValue(2, "EMAIL", b"a@example.com"))
    response = await _ask(StubService(_found(*values)))
    assert [r.strings[0] for r in response.answer[0]] == [b"index=2"]


async def test_url_subtypes_are_uri_records_and_empty_urls_are_skipped() -> None:
    values = (HandleValue(2, "URL.mobile", b"https://m.example/"), HandleValue(1, "URL", b""))
    response = await _ask(StubService(_found(*values)), "URI")
    assert [(r.priority, r.target) for r in response.answer[0]] == [(2, b"https://m.example/")]


async def test_cached_answers_are_not_authoritative_and_recursion_is_passed_on() -> None:
    service = StubService(_found(HandleValue(1, "EMAIL", b"a@example.com"), authoritative=False))
    response = await _ask(service, recursive=True)
    assert not response.flags & dns.flags.AA
    assert service.asked == [("88.118.8/tv-0001", True)]


@pytest.mark.parametrize(
    ("outcome", "rcode"),
    [
        (RuntimeError("store down"), dns.rcode.SERVFAIL),
        (ServiceError(RC_INVALID_HANDLE, "handle too long"), dns.rcode.NXDOMAIN),
        (Resolution(HANDLE, RC_ERROR, ()), dns.rcode.SERVFAIL),
    ],
)
async def test_failures(outcome: Resolution | Exception, rcode: dns.rcode.Rcode) -> None:
    response = await _ask(StubService(outcome))
    assert response.rcode() == rcode
    assert not response.answer


async def test_other_opcodes_classes_and_responses() -> None:
    bridge = DnsBridge(StubService(RuntimeError("not asked")), zone=ZONE)
    notify = dns.message.make_query(ZONE, "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = dns.message.from_wire(await bridge.answer(notify.to_wire(), udp=True) or b"")
    assert response.rcode() == dns.rcode.NOTIMP
    chaos = dns.message.make_query("version.bind.", "TXT", rdclass=dns.rdataclass.CH)
    response = dns.message.from_wire(await bridge.answer(chaos.to_wire(), udp=True) or b"")
    assert response.rcode() == dns.rcode.REFUSED
    future = dns.message.make_query(ZONE, "SOA", use_edns=1)
    response = dns.message.from_wire(await bridge.answer(future.to_wire(), udp=True) or b"")
    assert response.rcode() == dns.rcode.BADVERS
    reflected = dns.message.make_response(dns.message.make_query(ZONE, "SOA"))
    assert await bridge.answer(reflected.to_wire(), udp=True) is None


def test_value_ttl() -> None:
    assert value_ttl(HandleValue(1, "X", b"", ttl=600), now=1000) == 600
    assert value_ttl(HandleValue(1, "X", b"", ttl_type=TTL_TYPE_ABSOLUTE, ttl=1600), 1000) == 600
    assert value_ttl(HandleValue(1, "X", b"", ttl_type=TTL_TYPE_ABSOLUTE, ttl=900), 1000) == 0
    assert value_ttl(HandleValue(1, "X", b"", ttl=-5), now=0) == 0


async def test_a_kept_rendering_answers_the_same_bytes_and_absolute_ttls_count_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one second for the kept and the fresh answers: an absolute TTL counts down with the
    # clock, so a second that turned between them made the two differ
    monkeypatch.setattr(resolver.dns.bridge.time, "time", lambda: 1_900_000_000.25)
    values = (
        HandleValue(1, "URL", b"https://example.com/tv"),
        HandleValue(2, "EMAIL", b"support@example.com"),
        HandleValue(3, "BLOB", bytes(range(40))),
        HandleValue(4, "DESC", "é".encode() * 300),
        HandleValue(5, "NOTE", b"later", ttl_type=TTL_TYPE_ABSOLUTE, ttl=2**31 - 10),
    )
    service = StubService(_found(*values))
    kept = DnsBridge(service, zone=ZONE)
    for rdtype in ("TXT", "URI", "ANY"):
        query = dns.message.make_query(handle_to_name(HANDLE, ZONE), rdtype).to_wire()
        first = await kept.answer(query, udp=False)
        again = await kept.answer(query, udp=True)
        fresh = DnsBridge(service, zone=ZONE)
        # dnspython shuffles the records of an RRset on output: the same records, same size
        for mine, theirs in ((again, await fresh.answer(query, udp=True)),
                             (first, await fresh.answer(query, udp=False))):
            assert mine is not None and theirs is not None and len(mine) == len(theirs)
            assert dns.message.from_wire(mine) == dns.message.from_wire(theirs)
    assert len(kept.rendered) == 4  # every value but the one with an absolute TTL
    assert isinstance(kept.rendered.get(values[1], dns.rdatatype.TXT, lambda v: None),
                      dns.rdata.GenericRdata)  # from the kept wire form, not rendered again


def test_kept_renderings_are_bounded_in_bytes() -> None:
    rendered = RenderedValues(max_bytes=3 * (ENTRY_OVERHEAD + 120))
    values = [HandleValue(i, "DESC", b"x" * 50) for i in range(1, 20)]
    for value in values:
        rendered.get(value, dns.rdatatype.TXT, lambda v: _txt(v, 0))
    assert rendered.size <= rendered.max_bytes and 0 < len(rendered) < len(values)
    huge = HandleValue(1, "DESC", b"x" * 10_000)
    assert rendered.get(huge, dns.rdatatype.TXT, lambda v: _txt(v, 0)) is not None
    assert rendered.size <= rendered.max_bytes  # too large to keep: rendered, not kept
