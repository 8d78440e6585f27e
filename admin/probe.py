"""``idnode status``'s look at the configured ports: is what answers there this node?

A second node on the same machine, or a stale process from another data
dir, may hold the ports this configuration names; "listening" would then
be a lie.  Each front end is asked for this node's prefix handle
``0.NA/<prefix>`` (it must hold it: this prefix) and for the server key:

- Handle protocol: the site information the server itself sends
  (``OC_GET_SITE_INFO``) must carry this node's server public key;
- HTTP: the HS_SITE in the prefix handle it serves must carry that key.

The answer is one word-phrase per front end: ``this node``, ``not
reachable``, ``disabled``, or ``another server: <why>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from protocol.constants import RC_SUCCESS
from protocol.errors import ProtocolError
from protocol.rest_json import site_from_json
from protocol.site_info import SiteInfo
from registry.names import prefix_handle
from resolver.core.client import HandleClient, HandleClientError

THIS_NODE = "this node"
NOT_REACHABLE = "not reachable"


@dataclass(frozen=True)
class Identity:
    """What makes a server this node: its prefix and its server public key (HS_PUBKEY bytes)."""

    prefix: str
    public_key: bytes

    def key_in(self, site: SiteInfo) -> bool:
        """Whether ``site`` lists a server with this node's key."""
        return any(server.public_key == self.public_key for server in site.servers)


async def probe_handle(host: str, port: int, me: Identity, wait: float) -> str:
    """Who answers the Handle protocol at ``host:port`` (``wait`` seconds per exchange)."""
    if not port:
        return "disabled"
    client = HandleClient(timeout=wait, attempts=1, udp=False)
    try:
        site = await client.get_site_info((host, port))
        answer = await client.resolve(prefix_handle(me.prefix), ("HS_SITE",),
                                      server=(host, port), recursive=False)
    except (HandleClientError, OSError, TimeoutError, ProtocolError):
        return NOT_REACHABLE
    if answer.response_code != RC_SUCCESS:
        return f"another server: it does not hold {prefix_handle(me.prefix)}"
    if not me.key_in(site):
        return "another server: its server key is not this node's"
    return THIS_NODE


async def probe_http(host: str, port: int, me: Identity, wait: float, tls: bool) -> str:
    """Who answers HTTP at ``host:port`` (HTTPS when ``tls``; the key check stands in for
    certificate verification, so a self-signed certificate is accepted)."""
    if not port:
        return "disabled"
    scheme = "https" if tls else "http"
    url = f"{scheme}://{host}:{port}/api/handles/{prefix_handle(me.prefix)}?type=HS_SITE"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=wait)) as http, \
                http.get(url, ssl=not tls) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return NOT_REACHABLE
    if not isinstance(body, dict) or body.get("responseCode") != RC_SUCCESS:
        return f"another server: it does not hold {prefix_handle(me.prefix)}"
    sites = []
    for value in body.get("values") or ():
        try:
            sites.append(site_from_json(value["data"]["value"]))
        except (KeyError, TypeError, ProtocolError):
            continue
    if not any(me.key_in(site) for site in sites):
        return "another server: its HS_SITE does not carry this node's server key"
    return THIS_NODE
