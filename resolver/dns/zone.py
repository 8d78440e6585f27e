"""The DNS zone's own records: NS, SOA and the addresses (glue) of in-zone name servers.

A zone is deployable when its parent can delegate to it: the NS names must
resolve, and a name server inside the zone (``ns1.id.example.`` for the zone
``id.example.``) can only be found through the A/AAAA records the zone itself
serves (glue at the parent, RFC 1034 4.2.1).  :class:`ZoneApex` holds:

* ``ns``: the NS RRset at the apex, from ``dns_nameservers`` entries
  ``NAME`` or ``NAME=ADDRESS`` (a name is relative to the zone unless it ends
  with a dot; an address is IPv4 or IPv6; one entry per address);
* ``hosts``: A/AAAA RRsets for the in-zone name servers (answered for those
  names, and given with the NS RRset in the additional section);
* ``soa``: the SOA, whose MINIMUM is the negative-caching TTL the node itself
  uses (``negative_ttl``), so resolvers do not cache "no such handle" longer
  than the node does (RFC 2308); negative answers carry it with that TTL.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.SOA
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rrset

_IN = dns.rdataclass.IN


@dataclass(frozen=True, slots=True)
class SoaSettings:
    """The zone's SOA fields; names without a final dot are relative to the zone.

    ``mname`` defaults to the first NS name, ``serial`` to the server's start
    time; ``minimum`` is the negative-caching TTL.
    """

    mname: str | None = None
    rname: str = "hostmaster"
    serial: int | None = None
    refresh: int = 3600
    retry: int = 600
    expire: int = 1209600
    minimum: int = 300
    ttl: int = 3600


def parse_nameservers(entries: Iterable[str]) -> dict[str, list[str]]:
    """``NAME`` / ``NAME=ADDRESS`` entries as {name: [addresses]} in the order given;
    ValueError naming the entry when an address is not IPv4 or IPv6."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        name, equals, address = (part.strip() for part in entry.partition("="))
        if not name:
            raise ValueError(f"{entry!r}: no name server name")
        addresses = found.setdefault(name, [])
        if equals:
            try:
                addresses.append(str(ipaddress.ip_address(address)))
            except ValueError as exc:
                raise ValueError(f"{entry!r}: {address!r} is not an IP address") from exc
    return found


class ZoneApex:
    """NS, SOA and glue of ``zone`` (see the module docstring)."""

    def __init__(
        self,
        zone: dns.name.Name,
        nameservers: Mapping[str, Sequence[str]],
        soa: SoaSettings,
    ) -> None:
        names = {dns.name.from_text(n, origin=zone): list(a) for n, a in nameservers.items()}
        if not names:
            names = {dns.name.from_text("ns", origin=zone): []}
        self.ns = dns.rrset.from_rdata(
            zone, soa.ttl, *(dns.rdtypes.ANY.NS.NS(_IN, dns.rdatatype.NS, n) for n in names)
        )
        self.hosts: dict[dns.name.Name, list[dns.rrset.RRset]] = {}
        for name, addresses in names.items():
            if name.is_subdomain(zone) and addresses:
                self.hosts[name] = _address_rrsets(name, addresses, soa.ttl)
        first = next(iter(names))
        soa_rdata = dns.rdtypes.ANY.SOA.SOA(
            _IN,
            dns.rdatatype.SOA,
            dns.name.from_text(soa.mname, origin=zone) if soa.mname else first,
            dns.name.from_text(soa.rname, origin=zone),
            int(time.time()) if soa.serial is None else soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum,
        )
        self.soa = dns.rrset.from_rdata(zone, soa.ttl, soa_rdata)
        self.negative_soa = dns.rrset.from_rdata(zone, min(soa.ttl, soa.minimum), soa_rdata)

    @property
    def glue(self) -> list[dns.rrset.RRset]:
        """Every in-zone name server's A/AAAA RRsets (for the additional section)."""
        return [rrset for rrsets in self.hosts.values() for rrset in rrsets]

    def host_records(
        self, name: dns.name.Name, qtype: dns.rdatatype.RdataType
    ) -> list[dns.rrset.RRset] | None:
        """The A/AAAA RRsets of ``name`` asked for by ``qtype`` (empty: NODATA), or None
        when ``name`` is no in-zone name server."""
        rrsets = self.hosts.get(name)
        if rrsets is None:
            return None
        return [r for r in rrsets if qtype in (r.rdtype, dns.rdatatype.ANY)]


def _address_rrsets(name: dns.name.Name, addresses: Sequence[str], ttl: int
                    ) -> list[dns.rrset.RRset]:
    v4 = [dns.rdtypes.IN.A.A(_IN, dns.rdatatype.A, a) for a in addresses if ":" not in a]
    v6 = [dns.rdtypes.IN.AAAA.AAAA(_IN, dns.rdatatype.AAAA, a) for a in addresses if ":" in a]
    return [dns.rrset.from_rdata(name, ttl, *rdatas) for rdatas in (v4, v6) if rdatas]
