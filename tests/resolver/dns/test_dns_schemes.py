"""GS1 codes, OIDs and Ecodes resolve over DNS: their ``_gs1`` / ``_oid`` / ``_ecode`` names
are CNAMEs to the name of the handle that carries them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from protocol.values import HandleValue
from registry.schemes import parse_identifier
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.dns.bridge import DnsServer, run_dns_server
from resolver.dns.gs1_names import gs1_key_to_name, name_to_gs1_key
from resolver.dns.names import DnsNameError, handle_to_name
from resolver.dns.scheme_names import key_to_name, name_to_key

ZONE = "id.local."
ITEM = "88.118.8/FRIDGE-7"


@pytest.mark.parametrize(("text", "name"), [
    ("(01)06901234567892(21)F7", "hx--iy3q._21.06901234567892._01._gs1.id.local."),
    ("(01)06901234567892(21)123", "123._21.06901234567892._01._gs1.id.local."),
    ("106141412345678908", "106141412345678908._00._gs1.id.local."),
    ("(01)06901234567892(10)L/1(21)s", "s._21.hx--jqxtc._10.06901234567892._01._gs1.id.local."),
])
def test_names_round_trip_case_sensitive_values(text: str, name: str) -> None:
    key = parse_identifier(text).key
    assert gs1_key_to_name(key, ZONE).to_text() == name
    assert name_to_gs1_key(dns.name.from_text(name), ZONE) == key


@pytest.mark.parametrize("name", [
    "hx--zz9._21.06901234567892._01._gs1.id.local.",   # not base32
    "1._21.06901234567893._01._gs1.id.local.",         # bad check digit
    "1.21.06901234567892._01._gs1.id.local.",          # AI label without its underscore
])
def test_non_canonical_names_are_refused(name: str) -> None:
    with pytest.raises(DnsNameError):
        name_to_gs1_key(dns.name.from_text(name), ZONE)


@pytest.mark.parametrize(("text", "name"), [
    ("urn:oid:1.2.156.3001.7", "7.3001.156.2.1._oid.id.local."),
    ("ecode:1000100000000000000001234", "1000100000000000000001234._ecode.id.local."),
    ("ecode:3 10001 ABC9", "310001abc9._ecode.id.local."),
    ("ecode:4 10001 海尔", "hx--gqytambqghtlln7fwcka._ecode.id.local."),
])
def test_oid_and_ecode_names_round_trip(text: str, name: str) -> None:
    key = parse_identifier(text).key
    assert key_to_name(key, ZONE).to_text() == name
    assert name_to_key(dns.name.from_text(name), ZONE) == key


@pytest.mark.parametrize("name", [
    "7.3001.156.02.1._oid.id.local.",              # leading zero: not the canonical name
    "x.1._oid.id.local.",                          # not an arc
    "5000112._ecode.id.local.",                    # reserved Ecode version
    "1.10001._ecode.id.local.",                    # an Ecode is one label
    "hx--zz9._ecode.id.local.",                    # not base32
])
def test_non_canonical_oid_and_ecode_names_are_refused(name: str) -> None:
    with pytest.raises(DnsNameError):
        name_to_key(dns.name.from_text(name), ZONE)


def test_an_overlong_v4_ecode_has_no_name() -> None:
    with pytest.raises(DnsNameError, match="too long"):
        key_to_name(parse_identifier("ecode:4 10001 " + "码" * 40).key, ZONE)


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[DnsServer]:
    await database.create_handle(ITEM, [
        HandleValue(1, "URL", b"https://example.org/fridge-7"),
        HandleValue(2, "ID.GS1", b"(01)06901234567892(21)F7"),
        HandleValue(3, "ID.OID", b"urn:oid:1.2.156.3001.7"),
        HandleValue(4, "ID.ECODE", b"ecode:3 10001 ABC9"),
    ], actor="test")
    running = await run_dns_server(ResolutionService(database), zone=ZONE, port=0,
                                   identifiers=database.handle_by_identifier)
    try:
        yield running
    finally:
        running.close()
        await running.wait_closed()


async def _ask(server: DnsServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=5)


async def test_gs1_name_answers_cname_then_the_records(server: DnsServer) -> None:
    name = gs1_key_to_name(parse_identifier("(01)06901234567892(21)F7").key, ZONE)
    answer = await _ask(server, name.to_text(), "URI")
    assert answer.rcode() == dns.rcode.NOERROR
    cname, uri = answer.answer
    assert cname.rdtype == dns.rdatatype.CNAME and cname[0].target == handle_to_name(ITEM, ZONE)
    assert uri.name == handle_to_name(ITEM, ZONE) and uri[0].target == b"https://example.org/fridge-7"


async def test_unbound_and_partial_gs1_names(server: DnsServer) -> None:
    unbound = gs1_key_to_name(parse_identifier("96385074").key, ZONE).to_text()
    for empty in (unbound, "_gs1.id.local.", "_01._gs1.id.local.",
                  "06901234567892._01._gs1.id.local.", "_21.06901234567892._01._gs1.id.local."):
        nodata = await _ask(server, empty, "URI")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer, empty
    for impossible in ("x._gs1.id.local.", "hx--zz9._21.06901234567892._01._gs1.id.local."):
        assert (await _ask(server, impossible, "URI")).rcode() == dns.rcode.NXDOMAIN
    non_ascii = dns.name.Name([b"\xff", b"_gs1", b"id", b"local", b""])
    query = dns.message.make_query(non_ascii, "URI")
    answer = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=5)
    assert answer.rcode() == dns.rcode.NXDOMAIN             # answered, not a server error


@pytest.mark.parametrize("name", ["7.3001.156.2.1._oid.id.local.",
                                  "310001ABC9._ecode.id.local."])   # DNS ignores case
async def test_oid_and_ecode_names_answer_cname_then_the_records(
    server: DnsServer, name: str
) -> None:
    answer = await _ask(server, name, "URI")
    assert answer.rcode() == dns.rcode.NOERROR
    cname, uri = answer.answer
    assert cname.rdtype == dns.rdatatype.CNAME and cname[0].target == handle_to_name(ITEM, ZONE)
    assert uri[0].target == b"https://example.org/fridge-7"


async def test_unbound_names(server: DnsServer) -> None:
    # an OID above or beside a bound one may have sub-arcs: NODATA; so may the scheme labels
    for empty in ("3001.156.2.1._oid.id.local.", "8.3001.156.2.1._oid.id.local.",
                  "_oid.id.local.", "_ecode.id.local."):
        nodata = await _ask(server, empty, "URI")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer, empty
    # an Ecode is a single label, and malformed names lead nowhere: NXDOMAIN
    for nowhere in ("310001abc8._ecode.id.local.", "5000112._ecode.id.local.",
                    "x.1._oid.id.local."):
        assert (await _ask(server, nowhere, "URI")).rcode() == dns.rcode.NXDOMAIN, nowhere
