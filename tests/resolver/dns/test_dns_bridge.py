"""The DNS front end over the real resolution service and store, queried with dnspython and dig."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator

import dns.asyncbackend
import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.dns.bridge import DnsServer, SoaSettings, run_dns_server
from resolver.dns.names import handle_to_name

ZONE = "id.example."
HOST = "127.0.0.1"
TV = "88.118.8/TV-0001"
UNICODE = "88.118.8/Ünïcode_ID #1"
SLASHED = "88.118.8/tv_0001.A/B"
MANY = "88.118.8/MANY"
NO_URL = "88.118.8/NO-URL"
ADMIN_DATA = bytes(range(0, 40))


def _value(index: int, type_: str, data: str | bytes, **kw: object) -> HandleValue:
    raw = data.encode() if isinstance(data, str) else data
    return HandleValue(index, type_, raw, **kw)  # type: ignore[arg-type]


RECORDS = {
    TV: [
        _value(1, "URL", "https://example.com/tv/0001", ttl=3600),
        _value(2, "EMAIL", "service@example.com", ttl=600),
        _value(3, "URL", "https://mirror.example/tv/0001", ttl=7200),
        _value(4, "DESC", "expires soon", ttl_type=TTL_TYPE_ABSOLUTE, ttl=900),  # see _stored
        _value(5, "SECRET", "not for DNS", public_read=False),
        _value(100, "HS_ADMIN", ADMIN_DATA),
    ],
    UNICODE: [_value(1, "URL", "https://example.com/ünïcode")],
    SLASHED: [_value(7, "EMAIL", "slashed@example.com")],
    NO_URL: [_value(1, "EMAIL", "nobody@example.com")],
    MANY: [_value(i, "NOTE", f"note number {i:03d} of a long record") for i in range(1, 61)],
}


@pytest.fixture(scope="session")
def dig() -> str:
    """The ``dig`` binary, installed from Debian's dnsutils when missing."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "dnsutils"]
    for attempt in (install, ["apt-get", "update", "-q"], install):
        if shutil.which("dig"):
            break
        try:
            subprocess.run(attempt, env=env, capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired):
            break  # no apt-get here, or it hangs
    path = shutil.which("dig")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dig (dnsutils) is not installed and could not be installed")
        pytest.skip("dig (dnsutils) is not installed and could not be installed")
    return path


def _stored(value: HandleValue) -> HandleValue:
    """``value`` as stored: an absolute TTL counts from now, not from the module's import
    (a long suite run would otherwise find it expired)."""
    if value.ttl_type != TTL_TYPE_ABSOLUTE:
        return value
    return dataclasses.replace(value, ttl=int(time.time()) + value.ttl)


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[DnsServer]:
    for handle, values in RECORDS.items():
        await database.create_handle(handle, [_stored(v) for v in values], actor="test")
    running = await run_dns_server(
        ResolutionService(database),
        zone=ZONE,
        host=HOST,
        port=0,
        ns_names=["ns1", "ns2.other.example."],
        soa=SoaSettings(serial=2026112601, minimum=120),
    )
    yield running
    running.close()
    await running.wait_closed()


def _resolver(server: DnsServer) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [HOST]
    resolver.port = server.port
    resolver.lifetime = 5
    return resolver


async def _udp(server: DnsServer, name: str | dns.name.Name, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=False)
    return await dns.asyncquery.udp(query, HOST, port=server.port, timeout=5)


def _name(handle: str) -> str:
    return handle_to_name(handle, ZONE).to_text()


def _txt_fields(strings: tuple[bytes, ...]) -> dict[str, bytes]:
    """Decode the documented TXT form: key=value strings, the last value continuing."""
    *heads, value_start = strings[:3], b"".join(strings[3:])
    fields = dict(s.split(b"=", 1) for s in heads[0])
    key, value = value_start.split(b"=", 1)
    fields[key] = value
    return {k.decode(): v for k, v in fields.items()}


async def test_uri_records_carry_url_values_in_index_order(server: DnsServer) -> None:
    answer = await _resolver(server).resolve(_name(TV), "URI")
    records = sorted(answer, key=lambda r: r.priority)
    assert [(r.priority, r.weight, r.target) for r in records] == [
        (1, 1, b"https://example.com/tv/0001"),
        (3, 1, b"https://mirror.example/tv/0001"),
    ]
    assert answer.rrset is not None and answer.rrset.ttl == 3600  # the smaller value TTL


async def test_txt_records_carry_other_readable_values(server: DnsServer) -> None:
    answer = await _resolver(server).resolve(_name(TV), "TXT")
    fields = {int(f["index"]): f for f in (_txt_fields(r.strings) for r in answer)}
    assert sorted(fields) == [2, 4, 100]  # no URL, no non-public value
    assert fields[2] == {
        "index": b"2",
        "type": b"EMAIL",
        "ttl": b"600",
        "value": b"service@example.com",
    }
    assert 0 < int(fields[4]["ttl"]) <= 900  # absolute TTL -> seconds left
    assert fields[100]["type"] == b"HS_ADMIN"
    assert "value" not in fields[100]
    assert fields[100]["value.b64"] == b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw=="
    assert answer.rrset is not None and 0 < answer.rrset.ttl <= 600
    assert answer.response.flags & dns.flags.AA


async def test_missing_handle_is_nxdomain_with_soa(server: DnsServer) -> None:
    response = await _udp(server, _name("88.118.8/NOPE"), "TXT")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name == dns.name.from_text(ZONE)
    assert soa.ttl == 120


@pytest.mark.parametrize(
    ("handle", "rdtype"), [(NO_URL, "URI"), (TV, "A"), ("88.118.8", "TXT"), ("_.8.118.88", "TXT")]
)
async def test_nodata_with_soa(server: DnsServer, handle: str, rdtype: str) -> None:
    name = _name(handle) if "/" in handle else f"{handle}.{ZONE}"
    response = await _udp(server, name, rdtype)
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


async def test_soa_and_ns_at_the_apex(server: DnsServer) -> None:
    resolver = _resolver(server)
    (soa,) = await resolver.resolve(ZONE, "SOA")
    assert soa.serial == 2026112601
    assert soa.mname == dns.name.from_text(f"ns1.{ZONE}")
    assert soa.rname == dns.name.from_text(f"hostmaster.{ZONE}")
    ns = {r.target.to_text() for r in await resolver.resolve(ZONE, "NS")}
    assert ns == {f"ns1.{ZONE}", "ns2.other.example."}


async def test_names_outside_the_zone_are_refused(server: DnsServer) -> None:
    response = await _udp(server, "tv-0001._.8.118.88.other.example.", "TXT")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA


async def test_large_answer_is_truncated_over_udp_and_complete_over_tcp(
    server: DnsServer,
) -> None:
    truncated = await _udp(server, _name(MANY), "TXT")
    assert truncated.flags & dns.flags.TC
    assert len(truncated.to_wire()) <= 512
    query = dns.message.make_query(_name(MANY), "TXT")
    full = await dns.asyncquery.tcp(query, HOST, port=server.port, timeout=5)
    assert not full.flags & dns.flags.TC
    assert len(full.answer[0]) == 60
    answer = await _resolver(server).resolve(_name(MANY), "TXT")  # retries over TCP itself
    assert len(answer) == 60


@pytest.mark.parametrize("handle", [UNICODE, SLASHED])
async def test_suffixes_outside_the_dns_alphabet_resolve(server: DnsServer, handle: str) -> None:
    name = _name(handle)
    assert name.startswith("hx--")
    response = await _udp(server, name.upper(), "ANY")  # DNS case folding is harmless
    data = {
        r.target if r.rdtype == dns.rdatatype.URI else r.strings[-1]
        for rrset in response.answer
        for r in rrset
    }
    expected = {v.data if v.type == "URL" else b"value=" + v.data for v in RECORDS[handle]}
    assert data == expected


async def _raw_udp(server: DnsServer, payload: bytes) -> dns.message.Message:
    backend = dns.asyncbackend.get_default_backend()
    destination = (HOST, server.port)
    async with await backend.make_socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await dns.asyncquery.send_udp(sock, payload, destination)
        received = await dns.asyncquery.receive_udp(sock, destination, time.time() + 5)
    return received[0]


async def test_garbage_does_not_stop_the_server(server: DnsServer) -> None:
    backend = dns.asyncbackend.get_default_backend()
    async with await backend.make_socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await dns.asyncquery.send_udp(sock, b"\x00", (HOST, server.port))  # no header: dropped
    response = await _raw_udp(server, b"\xab\xcd\x01\x00\x00\x05" + b"\xff" * 20)
    assert response.id == 0xABCD
    assert response.rcode() == dns.rcode.FORMERR
    _, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"\x00\x03abc")  # a framed message too short to decode
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    two_questions = dns.message.make_query(_name(TV), "TXT")
    two_questions.question.append(dns.message.make_query(_name(NO_URL), "TXT").question[0])
    response = await _raw_udp(server, two_questions.to_wire())
    assert response.rcode() == dns.rcode.FORMERR
    answer = await _resolver(server).resolve(_name(TV), "URI")
    assert len(answer) == 2


async def _dig(dig: str, server: DnsServer, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        dig,
        f"@{HOST}",
        "-p",
        str(server.port),
        "+time=5",
        "+tries=1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return out.decode()


async def test_dig_uri_and_txt(dig: str, server: DnsServer) -> None:
    uri = await _dig(dig, server, "+short", _name(TV), "URI")
    assert sorted(uri.splitlines()) == [
        '1 1 "https://example.com/tv/0001"',
        '3 1 "https://mirror.example/tv/0001"',
    ]
    txt = await _dig(dig, server, "+short", _name(TV), "TXT")
    assert '"index=2" "type=EMAIL" "ttl=600" "value=service@example.com"' in txt.splitlines()
    slashed = await _dig(dig, server, "+short", "+tcp", _name(SLASHED), "TXT")
    assert slashed.strip() == '"index=7" "type=EMAIL" "ttl=86400" "value=slashed@example.com"'


async def test_dig_nxdomain_and_apex(dig: str, server: DnsServer) -> None:
    missing = await _dig(dig, server, _name("88.118.8/NOPE"), "TXT")
    assert "status: NXDOMAIN" in missing
    assert "flags: qr aa" in missing
    assert "AUTHORITY SECTION" in missing
    soa = await _dig(dig, server, "+short", ZONE, "SOA")
    mname, rname, *numbers = soa.split()
    assert (mname, rname) == (f"ns1.{ZONE}", f"hostmaster.{ZONE}")
    assert numbers == ["2026112601", "3600", "600", "1209600", "120"]
    ns = await _dig(dig, server, "+short", ZONE, "NS")
    assert sorted(ns.split()) == [f"ns1.{ZONE}", "ns2.other.example."]
    refused = await _dig(dig, server, "example.org.", "A")
    assert "status: REFUSED" in refused


async def test_dig_retries_a_truncated_answer_over_tcp(dig: str, server: DnsServer) -> None:
    truncated = await _dig(dig, server, "+noedns", "+ignore", _name(MANY), "TXT")
    assert "flags: qr aa tc" in truncated
    full = await _dig(dig, server, "+noedns", _name(MANY), "TXT")
    assert "Truncated, retrying in TCP mode" in full
    assert "ANSWER: 60," in full
