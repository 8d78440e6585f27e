"""Discovery of root and peer nodes from DNS SRV and URI records.

For a domain, :func:`discover` asks one configurable DNS server (dnspython's
async resolver, pointed at ``nameserver``:``port``) for SRV and URI records at

* ``_handle._udp.<domain>``  - Handle protocol over UDP,
* ``_handle._tcp.<domain>``  - Handle protocol over TCP,
* ``_http._tcp.<domain>``    - the HTTP (REST) interface,

and returns the endpoints, service by service in that order, each service's
endpoints ordered as RFC 2782 says (lower priority first; within a priority a
weighted random order, zero weights rarely first).  URI records (RFC 7553) use
the same priority/weight rules; their host and port come from the URI (default
ports: ``hdl`` 2641, ``http`` 80, ``https`` 443).  An SRV target of ``.``
means "not offered here" and is skipped.  When every lookup fails, or DNS has
no usable record, the configured ``fallback`` endpoints are returned instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

log = logging.getLogger(__name__)

SERVICES = ("_handle._udp", "_handle._tcp", "_http._tcp")
DEFAULT_PORTS = {"hdl": 2641, "http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """One place a service is offered.

    ``service`` is one of :data:`SERVICES`; ``source`` is ``srv``, ``uri`` or
    ``fallback``; ``uri`` is the URI record's target, if it came from one.
    """

    service: str
    host: str
    port: int
    priority: int = 0
    weight: int = 0
    source: str = "fallback"
    uri: str | None = None


async def discover(
    domain: str,
    *,
    nameserver: str | None = None,
    port: int = 53,
    fallback: Sequence[ServiceEndpoint] = (),
    lifetime: float = 2.0,
    rng: random.Random | None = None,
) -> list[ServiceEndpoint]:
    """The endpoints DNS announces for ``domain``, else ``fallback``.

    ``nameserver`` is an IP address (None: the system's resolver
    configuration); ``lifetime`` bounds each lookup (seconds); ``rng`` makes
    the weighted order reproducible.
    """
    try:
        resolver = _resolver(nameserver, port, lifetime)
    except (dns.exception.DNSException, ValueError) as exc:  # no resolv.conf, or not an IP
        log.warning("discovery has no resolver domain=%s error=%s", domain, exc)
        return list(fallback)
    origin = dns.name.from_text(domain)
    lookups = [
        _lookup(resolver, dns.name.from_text(service, origin=origin), service, rdtype)
        for service in SERVICES
        for rdtype in (dns.rdatatype.SRV, dns.rdatatype.URI)
    ]
    found = [endpoint for result in await asyncio.gather(*lookups) for endpoint in result]
    if not found:
        log.info("discovery found nothing domain=%s, using %d fallback", domain, len(fallback))
        return list(fallback)
    rng = rng or random.Random()
    ordered: list[ServiceEndpoint] = []
    for service in SERVICES:
        ordered += rfc2782_order([e for e in found if e.service == service], rng)
    return ordered


def rfc2782_order(
    endpoints: Sequence[ServiceEndpoint], rng: random.Random
) -> list[ServiceEndpoint]:
    """``endpoints`` in the order RFC 2782 tells a client to try them."""
    ordered: list[ServiceEndpoint] = []
    for priority in sorted({e.priority for e in endpoints}):
        group = sorted((e for e in endpoints if e.priority == priority), key=lambda e: e.weight > 0)
        while group:
            pick = rng.randint(0, sum(e.weight for e in group))
            running = 0
            for i, endpoint in enumerate(group):
                running += endpoint.weight
                if running >= pick:
                    ordered.append(group.pop(i))
                    break
    return ordered


def _resolver(nameserver: str | None, port: int, lifetime: float) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver]
        resolver.port = port
    resolver.lifetime = lifetime
    return resolver


async def _lookup(
    resolver: dns.asyncresolver.Resolver,
    name: dns.name.Name,
    service: str,
    rdtype: dns.rdatatype.RdataType,
) -> list[ServiceEndpoint]:
    """The endpoints of one SRV or URI lookup; none when it fails."""
    try:
        answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except (dns.exception.DNSException, OSError) as exc:
        log.debug("discovery lookup failed name=%s type=%s error=%s", name, rdtype.name, exc)
        return []
    found: list[ServiceEndpoint] = []
    for rdata in answer.rrset or ():
        if rdtype == dns.rdatatype.SRV:
            if rdata.target != dns.name.root:
                host = rdata.target.to_text(omit_final_dot=True)
                found.append(
                    ServiceEndpoint(service, host, rdata.port, rdata.priority, rdata.weight, "srv")
                )
        else:
            endpoint = _from_uri(service, rdata.priority, rdata.weight, rdata.target.decode())
            if endpoint is not None:
                found.append(endpoint)
    return found


def _from_uri(service: str, priority: int, weight: int, uri: str) -> ServiceEndpoint | None:
    try:
        parts = urlsplit(uri)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return ServiceEndpoint(service, parts.hostname, port, priority, weight, "uri", uri)
