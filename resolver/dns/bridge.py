"""DNS front end: answers DNS queries for handles from the resolution service.

Names map to handles by :mod:`resolver.dns.names`.  For a handle name:

* ``URI`` (RFC 7553): one record per URL value (type ``URL`` or ``URL.*``),
  priority = the value's index (capped at 65535), weight 1, so clients try the
  URLs in index order, as the Handle proxy does.
* ``TXT``: one record per other value, as the character-strings
  ``"index=<n>" "type=<type>" "ttl=<seconds>" "value=<UTF-8 text>"``; data that
  is not printable UTF-8 is given as ``"value.b64=<base64>"`` instead.  The
  value field is always last and continues through every following string
  (a character-string holds at most 255 bytes): concatenate them.  A value
  whose type name does not fit one string is left out.
* ``ANY``: both; any other type: NODATA.

Record TTLs come from the values (an absolute TTL becomes the seconds left);
the record data of a value is rendered once while it stays cached
(:mod:`resolver.dns.rendered`);
all records of one RRset carry the smallest of them (RFC 2181 section 5.2).
An unknown handle is NXDOMAIN, a handle without values of the asked kind is
NODATA, both with the zone's SOA in the authority section (RFC 2308).  The apex
answers SOA and NS; names outside the zone are REFUSED; names above handle
names (``8.118.88.<zone>``) are empty non-terminals (NODATA).  A GS1, OID or
Ecode key's name (:mod:`resolver.dns.scheme_names`, ``…._01._gs1.<zone>``,
``3001.156.2.1._oid.<zone>``, ``…._ecode.<zone>``) is a CNAME to the name of
the handle that carries the key, followed by that name's records.  UDP answers
larger than 512 bytes, or the client's EDNS payload size, or (against
amplification) ``amplification_factor`` times the query, are truncated with
TC set so the client retries over TCP; only an address that completed a TCP
connection lately (:mod:`resolver.core.proofs`) may draw up to 512 bytes (or
its EDNS size) whatever the factor.  Over TCP, a client over its rate limit
(:mod:`resolver.core.ratelimit`) is answered REFUSED; over UDP, which has a
budget of its own, it is dropped, every ``slip``-th query answered with an
empty truncated response (RRL) so a real client retries over TCP.  A TCP
query must arrive whole within the read timeout of its first byte, and TCP
connections are capped in all and per client (:mod:`resolver.core.connections`).
Undecodable queries get FORMERR (or are dropped when not even the header is
there), EDNS versions above 0 BADVERS
(RFC 6891), opcodes other than QUERY NOTIMP; a failing lookup gets SERVFAIL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.rdtypes.ANY.URI
import dns.rrset

from protocol.constants import (
    RC_HANDLE_NOT_FOUND,
    RC_INVALID_HANDLE,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
)
from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue
from registry.filters import select_values
from resolver.core.connections import ConnectionGate
from resolver.core.inflight import InFlight
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.model import Resolution, ServiceError
from resolver.core.proofs import ProvenAddresses
from resolver.core.ratelimit import UNLIMITED, Admission, RateLimiter, client_of
from resolver.dns.names import (
    DnsNameError,
    as_zone,
    handle_to_name,
    is_empty_non_terminal,
    name_to_handle,
)
from resolver.dns.rendered import RenderedValues
from resolver.dns.scheme_names import (
    leads_down,
    may_have_longer_keys,
    name_to_key,
    scheme_label,
)
from resolver.dns.zone import SoaSettings, ZoneApex

log = logging.getLogger(__name__)

CLASSIC_UDP_SIZE = 512
OUR_EDNS_PAYLOAD = 1232
TCP_MAX_SIZE = 65535
MAX_TTL = 2**31 - 1
MAX_STRING = 255
_IN = dns.rdataclass.IN
#: seconds a GS1 key's CNAME may be cached (a key is rebound rarely; the records keep theirs)
CNAME_TTL = 300

KeyLookup = Callable[[str], Awaitable[str | None]]


class HandleResolver(Protocol):
    """What the bridge needs of :class:`resolver.core.service.ResolutionService`."""

    async def resolve(self, handle: str, *, recursive: bool = False) -> Resolution:
        """Resolve ``handle`` for an anonymous caller."""
        ...


class DnsBridge:
    """Turns one DNS query (wire bytes) into one DNS response (wire bytes)."""

    def __init__(
        self,
        service: HandleResolver,
        *,
        zone: dns.name.Name | str,
        ns_names: Sequence[str] = (),
        soa: SoaSettings | None = None,
        recursive: bool = False,
        amplification_factor: float = 0.0,
        identifiers: KeyLookup | None = None,
        nameservers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.service = service
        self.identifiers = identifiers
        self.zone = as_zone(zone)
        self.recursive = recursive
        self.amplification_factor = amplification_factor
        if nameservers is None:
            nameservers = {name: [] for name in ns_names}
        self.apex = ZoneApex(self.zone, nameservers, soa or SoaSettings())
        self.rendered = RenderedValues()
        self.ns, self.soa, self.negative_soa = self.apex.ns, self.apex.soa, self.apex.negative_soa

    async def answer(self, wire: bytes, *, udp: bool, proven: bool = False) -> bytes | None:
        """The response to the query ``wire``, or None when nothing should be sent;
        ``proven``: the UDP client's address is known to be real (no amplification cap
        below 512 bytes)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except Exception:  # anything dnspython cannot decode is the client's fault
            return _form_error(wire)
        if query.flags & dns.flags.QR:
            return None
        response = dns.message.make_response(query, our_payload=OUR_EDNS_PAYLOAD)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        else:
            question = query.question[0]
            await self._fill(response, question.name, question.rdtype, question.rdclass)
        if not udp:
            return response.to_wire(max_size=TCP_MAX_SIZE, prefer_truncation=True)
        max_size = CLASSIC_UDP_SIZE
        if query.edns >= 0:  # RFC 6891 6.2.5: a payload size below 512 counts as 512
            max_size = min(max(query.payload, CLASSIC_UDP_SIZE), OUR_EDNS_PAYLOAD)
        cap = None
        if self.amplification_factor > 0:
            cap = int(self.amplification_factor * len(wire))
            max_size = min(max_size, max(cap, CLASSIC_UDP_SIZE))
        answer = response.to_wire(max_size=max_size, prefer_truncation=True)  # never below 512
        if cap is None or proven or len(answer) <= cap:
            return answer
        answer = _emptied(response)  # the 512-byte floor is for proven clients only
        return answer if len(answer) <= cap else None

    def truncated(self, wire: bytes) -> bytes | None:
        """An empty response with TC set to the query ``wire`` (the RRL "slip"), or None."""
        response = _response_to(wire)
        return None if response is None else _emptied(response)

    def refused(self, wire: bytes) -> bytes | None:
        """A REFUSED response to the query ``wire`` (None if it is not one)."""
        response = _response_to(wire)
        if response is None:
            return None
        response.set_rcode(dns.rcode.REFUSED)
        return response.to_wire()

    async def _fill(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
        qclass: dns.rdataclass.RdataClass,
    ) -> None:
        in_class = qclass in (dns.rdataclass.IN, dns.rdataclass.ANY)
        if not in_class or not qname.is_subdomain(self.zone):
            response.set_rcode(dns.rcode.REFUSED)
            return
        response.flags |= dns.flags.AA
        if qname == self.zone:
            self._apex(response, qtype)
            return
        hosts = self.apex.host_records(qname, qtype)
        if hosts is not None:  # an in-zone name server's address
            response.answer.extend(hosts)
            if not hosts:
                self._negative(response, nxdomain=False)
            return
        if scheme_label(qname, self.zone) is not None:
            await self._identifier(response, qname, qtype)
            return
        try:
            handle = name_to_handle(qname, self.zone)
        except DnsNameError:
            self._negative(response, nxdomain=not is_empty_non_terminal(qname, self.zone))
            return
        await self._handle_records(response, qname, qtype, handle)

    async def _handle_records(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
        handle: str,
    ) -> None:
        try:
            resolution = await self.service.resolve(handle, recursive=self.recursive)
        except ServiceError as exc:
            resolution = Resolution(handle, exc.response_code, ())
        except Exception:
            log.exception("dns lookup failed handle=%r", handle)
            response.set_rcode(dns.rcode.SERVFAIL)
            return
        self._records(response, qname, qtype, resolution)

    async def _identifier(
        self, response: dns.message.Message, qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
    ) -> None:
        """A GS1/OID/Ecode key's name: CNAME to the name of its handle, and its records."""
        try:
            key = name_to_key(qname, self.zone)
        except DnsNameError:
            # _gs1.<zone> and names ending at an AI label lead down to keys: NODATA (RFC 8020)
            self._negative(response, nxdomain=not leads_down(qname, self.zone))
            return
        handle = None if self.identifiers is None else await self.identifiers(key)
        if handle is None:  # a valid key may lead down to longer ones (GTIN -> serial)
            self._negative(response, nxdomain=not may_have_longer_keys(key))
            return
        target = handle_to_name(handle, self.zone)
        cname = dns.rdtypes.ANY.CNAME.CNAME(_IN, dns.rdatatype.CNAME, target)
        response.answer.append(dns.rrset.from_rdata(qname, CNAME_TTL, cname))
        if qtype != dns.rdatatype.CNAME:
            await self._handle_records(response, target, qtype, handle)

    def _apex(self, response: dns.message.Message, qtype: dns.rdatatype.RdataType) -> None:
        wanted = {dns.rdatatype.SOA: [self.soa], dns.rdatatype.NS: [self.ns]}
        wanted[dns.rdatatype.ANY] = [self.soa, self.ns]
        if qtype in wanted:
            response.answer.extend(wanted[qtype])
            if qtype in (dns.rdatatype.NS, dns.rdatatype.ANY):
                response.additional.extend(self.apex.glue)  # in-zone name servers' addresses
        else:
            self._negative(response, nxdomain=False)

    def _records(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
        resolution: Resolution,
    ) -> None:
        code = resolution.response_code
        if code in (RC_HANDLE_NOT_FOUND, RC_INVALID_HANDLE, RC_VALUES_NOT_FOUND):
            self._negative(response, nxdomain=code != RC_VALUES_NOT_FOUND)
            return
        if code != RC_SUCCESS:
            response.set_rcode(dns.rcode.SERVFAIL)
            return
        if not resolution.authoritative:
            response.flags &= ~dns.flags.AA
        now = int(time.time())
        urls = select_values(resolution.values, ["URL."])
        others = [v for v in resolution.values if v not in urls]
        urls = tuple(v for v in urls if v.data)  # a URI record cannot be empty
        kept = self.rendered.get
        if qtype in (dns.rdatatype.URI, dns.rdatatype.ANY) and urls:
            uri = [(v, rdata) for v in urls
                   if (rdata := kept(v, dns.rdatatype.URI, _uri)) is not None]
            response.answer.append(_rrset(qname, uri, now))
        if qtype in (dns.rdatatype.TXT, dns.rdatatype.ANY):
            def txt_of(value: HandleValue) -> dns.rdata.Rdata | None:
                return _txt(value, now)

            txt = [(v, rdata) for v in others
                   if (rdata := kept(v, dns.rdatatype.TXT, txt_of)) is not None]
            if txt:
                response.answer.append(_rrset(qname, txt, now))
        if not response.answer:
            self._negative(response, nxdomain=False)

    def _negative(self, response: dns.message.Message, *, nxdomain: bool) -> None:
        if nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(self.negative_soa)


def _response_to(wire: bytes) -> dns.message.Message | None:
    """An empty response to the query ``wire`` (None if it is not a query)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # not worth more work: the client is over its limit
        return None
    return None if query.flags & dns.flags.QR else dns.message.make_response(query)


def _emptied(response: dns.message.Message) -> bytes:
    """``response`` without records, TC set: "ask again over TCP"."""
    response.answer.clear()
    response.authority.clear()
    response.additional.clear()
    response.flags |= dns.flags.TC
    return response.to_wire()


def _form_error(wire: bytes) -> bytes:
    """A FORMERR response echoing the query id of an undecodable message."""
    response = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
    response.flags = dns.flags.QR
    response.set_rcode(dns.rcode.FORMERR)
    return response.to_wire()


def value_ttl(value: HandleValue, now: int) -> int:
    """The DNS TTL of ``value``: its relative TTL, or the seconds until its absolute expiry."""
    ttl = value.ttl - now if value.ttl_type == TTL_TYPE_ABSOLUTE else value.ttl
    return max(0, min(ttl, MAX_TTL))


def _rrset(
    qname: dns.name.Name, records: list[tuple[HandleValue, dns.rdata.Rdata]], now: int
) -> dns.rrset.RRset:
    records.sort(key=lambda item: item[0].index)
    ttl = min(value_ttl(v, now) for v, _ in records)
    return dns.rrset.from_rdata(qname, ttl, *(rdata for _, rdata in records))


def _uri(value: HandleValue) -> dns.rdata.Rdata:
    priority = max(0, min(value.index, 65535))
    return dns.rdtypes.ANY.URI.URI(_IN, dns.rdatatype.URI, priority, 1, value.data)


def _txt(value: HandleValue, now: int) -> dns.rdata.Rdata | None:
    type_field = b"type=" + value.type.encode("utf-8", "replace")
    if len(type_field) > MAX_STRING:
        return None
    text = _printable_text(value.data)
    payload = b"value=" + value.data if text else b"value.b64=" + base64.b64encode(value.data)
    strings = [
        f"index={value.index}".encode(),
        type_field,
        f"ttl={value_ttl(value, now)}".encode(),
        *(payload[i : i + MAX_STRING] for i in range(0, len(payload), MAX_STRING)),
    ]
    return dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, strings)


def _printable_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(
        self,
        bridge: DnsBridge,
        inflight: InFlight,
        limiter: RateLimiter,
        proofs: ProvenAddresses,
    ) -> None:
        self.bridge = bridge
        self.inflight = inflight
        self.limiter = limiter
        self.proofs = proofs
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        admission = self.limiter.admit_datagram(client_of(addr))
        if admission is not Admission.ANSWER:
            slip = self.bridge.truncated(data) if admission is Admission.SLIP else None
            if slip is not None and self.transport is not None:
                self.transport.sendto(slip, addr)
            return
        if self.inflight.full:
            return
        self.inflight.start(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            wire = await self.bridge.answer(
                data, udp=True, proven=client_of(addr) in self.proofs
            )
        except Exception:
            log.exception("dns udp query failed peer=%s", addr[0])
            return
        if wire is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("dns udp socket error: %s", exc)


class DnsServer:
    """A running DNS front end (UDP and TCP on one port).  Stop it with :meth:`close`."""

    def __init__(
        self, bridge: DnsBridge, limits: Limits, limiter: RateLimiter = UNLIMITED
    ) -> None:
        self.bridge = bridge
        self.limits = limits
        self.limiter = limiter
        self.udp_limiter = limiter.fresh()
        self.proofs = ProvenAddresses()
        self.gate = ConnectionGate(limits.max_tcp_connections, limits.max_connections_per_client)
        self.host = ""
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._queries = InFlight(limits.max_udp_inflight)
        self._connections: set[asyncio.Task[object]] = set()

    async def start(self, host: str, port: int) -> None:
        """Bind UDP and TCP to ``host``:``port`` (0: one free port for both)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            tcp = await asyncio.start_server(self._serve_tcp, host, port)
            bound = tcp.sockets[0].getsockname()[1]
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(
                        self.bridge, self._queries, self.udp_limiter, self.proofs
                    ),
                    local_addr=(host, bound),
                )
            except OSError:
                tcp.close()
                await tcp.wait_closed()
                if port:
                    raise
                continue
            self._tcp, self.host, self.port = tcp, host, bound
            log.info("dns server listening host=%s port=%d zone=%s", host, bound, self.bridge.zone)
            return
        raise OSError(f"no free port for both UDP and TCP on {host}")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        client = client_of(writer.get_extra_info("peername"))
        key = self.gate.admit(client)
        if task is None or key is None:
            if key is not None:
                self.gate.release(key)
            writer.close()
            return
        self._connections.add(task)
        self.proofs.prove(client)
        try:
            while True:
                async with asyncio.timeout(self.limits.idle_timeout):
                    first = await reader.readexactly(1)
                async with asyncio.timeout(self.limits.read_timeout):
                    size = int.from_bytes(first + await reader.readexactly(1), "big")
                    wire = await reader.readexactly(size)
                if self.limiter.seconds_until_allowed(client):
                    answer = self.bridge.refused(wire)
                else:
                    answer = await self.bridge.answer(wire, udp=False)
                if answer is None:
                    break
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("dns tcp connection failed")
        finally:
            self.gate.release(key)
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def close(self) -> None:
        """Stop listening and cancel the queries in progress."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in [*self._queries.tasks, *self._connections]:
            task.cancel()

    async def wait_closed(self) -> None:
        """Wait until the sockets are closed and the cancelled queries have ended."""
        if self._tcp is not None:
            await self._tcp.wait_closed()
        await asyncio.gather(*self._queries.tasks, *self._connections, return_exceptions=True)


async def run_dns_server(
    service: HandleResolver,
    *,
    zone: str,
    host: str = "127.0.0.1",
    port: int = 53,
    ns_names: Sequence[str] = (),
    soa: SoaSettings | None = None,
    recursive: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    rate_limiter: RateLimiter = UNLIMITED,
    identifiers: KeyLookup | None = None,
    nameservers: Mapping[str, Sequence[str]] | None = None,
) -> DnsServer:
    """Start the DNS front end for ``zone`` on ``host``:``port`` (UDP and TCP).

    ``port`` 0 picks a free port (see :attr:`DnsServer.port`).  ``ns_names``
    are the zone's name servers (relative to the zone unless they end in a
    dot; default ``ns.<zone>``); ``recursive`` is passed on to the service;
    ``limits`` bound slow TCP clients and UDP answer sizes; ``rate_limiter``
    budgets TCP queries, a :meth:`RateLimiter.fresh` copy of it UDP ones;
    ``identifiers`` finds the handle of a GS1/OID/Ecode key (their names are NXDOMAIN
    without);
    ``nameservers`` (name -> addresses, :mod:`resolver.dns.zone`) replaces
    ``ns_names`` and adds the in-zone name servers' A/AAAA records.
    """
    bridge = DnsBridge(
        service, zone=zone, ns_names=ns_names, soa=soa, recursive=recursive,
        amplification_factor=limits.udp_amplification_factor, identifiers=identifiers,
        nameservers=nameservers,
    )
    server = DnsServer(bridge, limits, rate_limiter)
    await server.start(host, port)
    return server
