"""Where a prefix lives: the site of the node that hosts it, as that node describes itself.

Back-links (:mod:`resolver.core.backlinks`) need, for a prefix held by
another node, that node's HTTP address (to deliver to it) and its server keys
(to verify what it signed).  :meth:`HomeFinder.home` finds them the way a
Handle client finds a server: resolve the prefix handle ``0.NA/<prefix>``
recursively (the secondary node, as the root of the nodes under it, answers
with the HS_SITE it delegates the prefix to), then ask a server of that site
for its own site information (``OC_GET_SITE_INFO``), which carries every
server's public key and HTTP port, even when the delegation's HS_SITE names
only the Handle address.  The key is thus the one the server at the address
the Handle system names for the prefix presents, the same trust a Handle
client puts in a certified answer from that server.

Answers are kept ``ttl`` seconds in a bounded LRU map, so a burst of
back-links from one node costs one lookup.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from protocol.constants import RC_SUCCESS, SP_HDL_HTTP, TYPE_HS_SITE
from protocol.errors import ProtocolError
from protocol.site_info import SiteInfo
from registry.config import NodeConfig, parse_host_port
from registry.names import name_key, prefix_handle
from registry.trust.errors import TrustError
from registry.trust.keys import PublicKey, hs_pubkey_to_public_key
from resolver.core.client import HandleClient, HandleClientError
from resolver.core.model import ServiceError
from resolver.core.recursive import DEFAULT_HOP_TIMEOUT
from resolver.core.service import ResolutionService
from resolver.core.upstream import UpstreamPolicy

DEFAULT_TTL = 300.0
MAX_KEPT = 1024


class HomeNotFound(Exception):
    """No node could be found, or asked, for a prefix; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Home:
    """The site hosting a prefix: its servers' addresses, HTTP ports and keys."""

    prefix: str
    site: SiteInfo

    def http_urls(self, scheme: str = "http") -> list[str]:
        """``scheme://host:port`` of every server with an HTTP interface."""
        urls = []
        for server in self.site.servers:
            http = server.interface(SP_HDL_HTTP)
            if http is not None:
                host = f"[{server.ip}]" if ":" in server.ip else server.ip
                urls.append(f"{scheme}://{host}:{http.port}")
        return urls

    def server_keys(self) -> list[tuple[str, PublicKey]]:
        """``(host:port, key)`` of every server publishing a usable public key."""
        found = []
        for server in self.site.servers:
            try:
                key = hs_pubkey_to_public_key(server.public_key)
            except (TrustError, ValueError):
                continue
            ports = [i.port for i in server.interfaces if i.protocol != SP_HDL_HTTP]
            found.append((f"{server.ip}:{ports[0] if ports else 0}", key))
        return found


class HomeFinder:
    """Finds and remembers the home sites of prefixes through ``service``'s recursion."""

    def __init__(self, service: ResolutionService, client: HandleClient, *,
                 ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._kept: OrderedDict[str, tuple[float, Home]] = OrderedDict()

    async def home(self, prefix: str) -> Home:
        """The site hosting ``prefix``; :class:`HomeNotFound` when none can be reached."""
        key = name_key(prefix)
        kept = self._kept.get(key)
        if kept is not None and kept[0] > self.clock():
            self._kept.move_to_end(key)
            return kept[1]
        home = Home(prefix, await self._find(prefix))
        self._kept[key] = (self.clock() + self.ttl, home)
        if len(self._kept) > MAX_KEPT:
            self._kept.popitem(last=False)
        return home

    def forget(self, prefix: str) -> None:
        """Look ``prefix`` up afresh next time (its node did not answer)."""
        self._kept.pop(name_key(prefix), None)

    async def _find(self, prefix: str) -> SiteInfo:
        handle = prefix_handle(prefix)
        try:
            res = await self.service.resolve(handle, types=[TYPE_HS_SITE], recursive=True)
        except ServiceError as exc:
            raise HomeNotFound(f"{handle}: {exc.message}") from None
        sites = [v for v in res.values if v.type == TYPE_HS_SITE]
        if res.response_code != RC_SUCCESS or not sites:
            raise HomeNotFound(f"{handle} names no site (response code {res.response_code})")
        problem = "no server answered"
        for site in sites:
            try:
                return await self.client.get_site_info(server=site)
            except (HandleClientError, ProtocolError, OSError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
        raise HomeNotFound(f"the home of {prefix} did not answer: {problem}")


def home_finder(service: ResolutionService, config: NodeConfig) -> HomeFinder:
    """A finder over ``service`` whose site-information requests obey the node's upstream
    policy (``upstream_allow``, the root trusted) like its recursion."""
    root = parse_host_port(config.root_address, "root_address") if config.root_address else None
    policy = UpstreamPolicy(config.upstream_allow, trusted=[root] if root is not None else [],
                            max_connections=config.max_upstream_connections)
    return HomeFinder(service, HandleClient(timeout=DEFAULT_HOP_TIMEOUT / 2, attempts=1,
                                            gate=policy.gate))
