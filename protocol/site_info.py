"""HS_SITE value data: a service site and its servers (RFC 3651 section 3.2.2).

Byte layout as ``Encoder.encodeSiteInfoRecord``/``decodeSiteInfoRecord``::

    data_format_version:int2 major:int1 minor:int1 serial:int2
    flags:int1 (0x80 primary, 0x40 multi-primary) hash_option:int1
    hash_filter:bytes attributes:int4 (name:bytes value:bytes)*
    servers:int4 ( server_id:int4 address:16 octets public_key:bytes
                   interfaces:int4 (type:int1 protocol:int1 port:int4)* )*

IPv4 addresses are stored as in CNRI's ``SiteInfo`` constructor: twelve zero
octets followed by the four address octets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from protocol.constants import (
    HASH_TYPE_BY_ALL,
    IP_ADDRESS_LENGTH,
    PROTOCOL_MAJOR_VERSION,
    PROTOCOL_MINOR_VERSION,
    SITE_MULTI_PRIMARY,
    SITE_PRIMARY,
    SITE_RECORD_FORMAT_VERSION,
    SP_HDL_TCP,
    ST_ADMIN,
    ST_ADMIN_AND_QUERY,
    ST_QUERY,
)
from protocol.errors import ProtocolError
from protocol.wire import Reader, Writer


@dataclass(frozen=True, slots=True)
class Interface:
    """One way to reach a server: ``type`` (ST_* bits: 1 admin, 2 query),
    ``protocol`` (SP_HDL_UDP/TCP/HTTP/HTTPS) and ``port``."""

    type: int = ST_ADMIN_AND_QUERY
    protocol: int = SP_HDL_TCP
    port: int = 2641

    @property
    def query(self) -> bool:
        """The interface answers queries."""
        return bool(self.type & ST_QUERY)

    @property
    def admin(self) -> bool:
        """The interface accepts administration requests."""
        return bool(self.type & ST_ADMIN)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """One server of a site.  ``address`` is 16 octets; ``public_key`` is an
    HS_PUBKEY encoding (see :mod:`protocol.public_key`)."""

    server_id: int
    address: bytes
    public_key: bytes = b""
    interfaces: tuple[Interface, ...] = ()

    @property
    def ip(self) -> str:
        """The address as text, formatted like CNRI ``ServerInfo.getAddressString``."""
        return address_to_string(self.address)

    def interface(self, protocol: int, query: bool = True) -> Interface | None:
        """The first interface with this protocol (answering queries if ``query``)."""
        for itf in self.interfaces:
            if itf.protocol == protocol and (not query or itf.query):
                return itf
        return None


@dataclass(frozen=True, slots=True)
class Attribute:
    """A site attribute (name/value bytes, normally UTF-8 text such as ``desc``)."""

    name: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """A service site: version, serial number, hashing and servers."""

    serial_number: int = 1
    servers: tuple[ServerInfo, ...] = ()
    is_primary: bool = False
    multi_primary: bool = False
    hash_option: int = HASH_TYPE_BY_ALL
    hash_filter: bytes = b""
    attributes: tuple[Attribute, ...] = field(default=())
    data_format_version: int = SITE_RECORD_FORMAT_VERSION
    major_version: int = PROTOCOL_MAJOR_VERSION
    minor_version: int = PROTOCOL_MINOR_VERSION

    def attribute(self, name: bytes) -> bytes | None:
        """The value of the first attribute called ``name``, if any."""
        for att in self.attributes:
            if att.name == name:
                return att.value
        return None


def address_from_string(ip: str) -> bytes:
    """16 address octets for an IPv4 or IPv6 address text (IPv4 zero-padded, as CNRI)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError as exc:
        raise ProtocolError(f"invalid IP address {ip!r}") from exc
    return addr.packed.rjust(IP_ADDRESS_LENGTH, b"\0")


def address_to_string(address: bytes) -> str:
    """Text form of 16 address octets, as ``ServerInfo.getAddressString`` /
    ``Util.rfcIpRepr`` write it (dotted IPv4 when the first 12 octets are zero)."""
    if len(address) == IP_ADDRESS_LENGTH and not any(address[:12]):
        return ".".join(str(b) for b in address[12:])
    if len(address) == 4:
        return ".".join(str(b) for b in address)
    if len(address) != IP_ADDRESS_LENGTH:
        return ":".join(address[i : i + 2].hex() for i in range(0, len(address), 2))
    words = [int.from_bytes(address[i : i + 2], "big") for i in range(0, 16, 2)]
    # CNRI's integerIPv6AddressToString: longest zero run (ended by a non-zero word)
    current = start = largest = 0
    largest_start = -1
    prev_zero = False
    for i, w in enumerate(words):
        if w == 0:
            if not prev_zero:
                start, prev_zero = i, True
            current += 1
        else:
            prev_zero = False
            if current > largest:
                largest_start, largest = start, current
            current = 0
    if largest == 1:
        largest_start = -1
    out = []
    i = 0
    while i < 8:
        if i != largest_start:
            out.append(format(words[i], "x"))
            if i < 7:
                out.append(":")
        else:
            if i == 0:
                out.append(":")
            i += largest - 1
            out.append(":")
        i += 1
    return "".join(out)


def write_site_info(w: Writer, site: SiteInfo) -> None:
    """Append the HS_SITE encoding of ``site``."""
    w.i16(site.data_format_version)
    w.u8(site.major_version)
    w.u8(site.minor_version)
    w.i16(site.serial_number)
    primary = SITE_PRIMARY if site.is_primary else 0
    w.u8(primary | (SITE_MULTI_PRIMARY if site.multi_primary else 0))
    w.u8(site.hash_option)
    w.byte_array(site.hash_filter)
    w.i32(len(site.attributes))
    for att in site.attributes:
        w.byte_array(att.name)
        w.byte_array(att.value)
    w.i32(len(site.servers))
    for server in site.servers:
        if len(server.address) > IP_ADDRESS_LENGTH:
            raise ProtocolError("server address longer than 16 octets")
        w.i32(server.server_id)
        w.raw(server.address.rjust(IP_ADDRESS_LENGTH, b"\0"))
        w.byte_array(server.public_key)
        w.i32(len(server.interfaces))
        for itf in server.interfaces:
            w.u8(itf.type)
            w.u8(itf.protocol)
            w.i32(itf.port)


def encode_site_info(site: SiteInfo) -> bytes:
    """The HS_SITE value data for ``site``."""
    w = Writer()
    write_site_info(w, site)
    return w.getvalue()


def read_site_info(r: Reader) -> SiteInfo:
    """Decode an HS_SITE record at the reader's position (up to its end)."""
    data_format_version = r.i16()
    major = r.u8()
    minor = r.u8()
    serial = r.i16()
    flags = r.u8()
    hash_option = r.i8()
    hash_filter = r.byte_array()
    attributes = tuple(Attribute(r.byte_array(), r.byte_array()) for _ in range(r.count(8)))
    servers = []
    for _ in range(r.count(4 + IP_ADDRESS_LENGTH + 8)):
        server_id = r.i32()
        address = r.raw(IP_ADDRESS_LENGTH)
        public_key = r.byte_array()
        interfaces = tuple(Interface(r.u8(), r.u8(), r.i32()) for _ in range(r.count(6)))
        servers.append(ServerInfo(server_id, address, public_key, interfaces))
    return SiteInfo(
        serial_number=serial,
        servers=tuple(servers),
        is_primary=bool(flags & SITE_PRIMARY),
        multi_primary=bool(flags & SITE_MULTI_PRIMARY),
        hash_option=hash_option,
        hash_filter=hash_filter,
        attributes=attributes,
        data_format_version=data_format_version,
        major_version=major,
        minor_version=minor,
    )


def decode_site_info(data: bytes) -> SiteInfo:
    """Decode HS_SITE value data; trailing bytes are an error, as in CNRI."""
    r = Reader(data)
    site = read_site_info(r)
    r.expect_end("site info")
    return site
