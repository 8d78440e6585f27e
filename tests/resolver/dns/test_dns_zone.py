"""Issue 18 F17: the DNS zone is deployable: its NS names resolve (in-zone name servers'
A/AAAA records are answered and given as glue), NS and SOA are configurable, and the
negative-caching TTL is the node's own ``negative_ttl``."""

from __future__ import annotations

from pathlib import Path

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from registry.config import ConfigError, NodeConfig, load_config
from resolver.node import start_node
from tests.resolver.test_abuse import HOST, _free_port

ZONE = "id.example."


async def _ask(port: int, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(query, HOST, port=port, timeout=5)


def _rdatas(message: dns.message.Message, section: str, rdtype: str) -> set[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return {r.to_text() for rrset in getattr(message, section) if rrset.rdtype == wanted
            for r in rrset}


async def test_default_zone_answers_its_name_server_address(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=tmp_path / "n", handle_port=0, http_port=0,
                        dns_port=_free_port(), dns_zone=ZONE, negative_ttl=45)
    node = await start_node(config)
    try:
        ns = await _ask(config.dns_port, ZONE, "NS")
        address = await _ask(config.dns_port, f"ns.{ZONE}", "A")
        soa = await _ask(config.dns_port, ZONE, "SOA")
        missing = await _ask(config.dns_port, f"nothing._.8.118.88.{ZONE}", "URI")
    finally:
        await node.close()
    assert _rdatas(ns, "answer", "NS") == {f"ns.{ZONE}"}
    assert _rdatas(ns, "additional", "A") == {config.public_host}  # glue
    assert address.rcode() == dns.rcode.NOERROR
    assert _rdatas(address, "answer", "A") == {config.public_host}
    minimum = next(iter(soa.answer[0])).minimum
    assert minimum == config.negative_ttl  # resolvers cache "no such handle" as long as we do
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].ttl == config.negative_ttl


async def test_configured_name_servers_and_hostmaster(tmp_path: Path) -> None:
    config = NodeConfig(
        data_dir=tmp_path / "n", handle_port=0, http_port=0, dns_port=_free_port(),
        dns_zone=ZONE, dns_hostmaster="dns-admin.example.org.",
        dns_nameservers=("ns1=192.0.2.10", "ns1=2001:db8::10", "ns2.other.example."),
    )
    node = await start_node(config)
    try:
        ns = await _ask(config.dns_port, ZONE, "NS")
        v4 = await _ask(config.dns_port, f"ns1.{ZONE}", "A")
        v6 = await _ask(config.dns_port, f"ns1.{ZONE}", "AAAA")
        mx = await _ask(config.dns_port, f"ns1.{ZONE}", "MX")
        soa = await _ask(config.dns_port, ZONE, "SOA")
    finally:
        await node.close()
    assert _rdatas(ns, "answer", "NS") == {f"ns1.{ZONE}", "ns2.other.example."}
    assert _rdatas(ns, "additional", "A") == {"192.0.2.10"}
    assert _rdatas(ns, "additional", "AAAA") == {"2001:db8::10"}
    assert _rdatas(v4, "answer", "A") == {"192.0.2.10"}
    assert _rdatas(v6, "answer", "AAAA") == {"2001:db8::10"}
    assert mx.rcode() == dns.rcode.NOERROR and not mx.answer and mx.authority  # NODATA
    record = next(iter(soa.answer[0]))
    assert record.mname == dns.name.from_text(f"ns1.{ZONE}")
    assert record.rname == dns.name.from_text("dns-admin.example.org.")


def test_bad_name_server_entries_name_the_key() -> None:
    assert load_config(environ={"IDNODE_DNS_NAMESERVERS": "ns1=192.0.2.1,ns2"}).dns_nameservers \
        == ("ns1=192.0.2.1", "ns2")
    for bad in ("ns1=not-an-address", "=192.0.2.1"):
        with pytest.raises(ConfigError, match="dns_nameservers"):
            load_config(environ={"IDNODE_DNS_NAMESERVERS": bad})
