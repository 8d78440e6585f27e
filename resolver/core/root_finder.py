"""Where recursive resolution starts: the configured root, or the one DNS announces.

``root_address`` in the configuration wins.  Without it, and with a
``discovery_domain``, the root's Handle endpoints are looked up as SRV/URI
records (``_handle._udp`` / ``_handle._tcp`` under that domain) through
``discovery_nameserver`` (``HOST`` or ``HOST:PORT``; empty = the system's
resolver), and the first endpoint in RFC 2782 order is used.
"""

from __future__ import annotations

import logging

from registry.config import NodeConfig, parse_host_port
from resolver.core.discovery import discover

log = logging.getLogger(__name__)

HANDLE_SERVICES = ("_handle._udp", "_handle._tcp")
DNS_PORT = 53


def parse_nameserver(text: str) -> tuple[str | None, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) as (host, port); empty means the system's."""
    if not text.strip():
        return None, DNS_PORT
    return parse_host_port(text, "discovery_nameserver", default_port=DNS_PORT)


async def find_root_address(config: NodeConfig) -> str:
    """``HOST:PORT`` of the root node, or "" when neither configured nor announced."""
    if config.root_address or not config.discovery_domain:
        return config.root_address
    host, port = parse_nameserver(config.discovery_nameserver)
    endpoints = await discover(config.discovery_domain, nameserver=host, port=port)
    for endpoint in endpoints:
        if endpoint.service in HANDLE_SERVICES:
            address = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
            log.info("root found by DNS domain=%s root=%s:%d source=%s",
                     config.discovery_domain, address, endpoint.port, endpoint.source)
            return f"{address}:{endpoint.port}"
    log.warning("no root announced under %s: recursive resolution starts locally",
                config.discovery_domain)
    return ""
