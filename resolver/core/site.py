"""The node's own HS_SITE value, built from the addresses its Handle server listens on."""

from __future__ import annotations

from collections.abc import Sequence

from protocol.constants import SP_HDL_HTTP, SP_HDL_TCP, SP_HDL_UDP, ST_ADMIN_AND_QUERY, ST_QUERY
from protocol.site_info import (
    Attribute,
    Interface,
    ServerInfo,
    SiteInfo,
    address_from_string,
    encode_site_info,
)
from protocol.values import HandleValue


def build_site_info(
    addresses: Sequence[tuple[str, int]],
    *,
    public_key: bytes = b"",
    http_port: int | None = None,
    serial_number: int = 1,
    description: str | None = None,
) -> SiteInfo:
    """A primary site with one server per ``(ip, port)``: TCP admin+query, UDP query,
    and HTTP admin+query when ``http_port`` is given.  ``public_key`` is the
    HS_PUBKEY encoding of the key certified responses are signed with."""
    servers = []
    for number, (ip, port) in enumerate(addresses, start=1):
        interfaces = [
            Interface(ST_ADMIN_AND_QUERY, SP_HDL_TCP, port),
            Interface(ST_QUERY, SP_HDL_UDP, port),
        ]
        if http_port is not None:
            interfaces.append(Interface(ST_ADMIN_AND_QUERY, SP_HDL_HTTP, http_port))
        servers.append(ServerInfo(number, address_from_string(ip), public_key, tuple(interfaces)))
    attributes = () if description is None else (Attribute(b"desc", description.encode()),)
    return SiteInfo(
        serial_number=serial_number,
        servers=tuple(servers),
        is_primary=True,
        attributes=attributes,
    )


def site_info_value(site: SiteInfo, index: int = 1) -> HandleValue:
    """``site`` as an HS_SITE handle value (publicly readable, admin-writable)."""
    return HandleValue(index=index, type="HS_SITE", data=encode_site_info(site))
