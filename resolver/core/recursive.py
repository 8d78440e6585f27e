"""The recursive resolver: follow the Handle system's referrals to the final answer.

As CNRI's ``HandleResolver`` does for a client, for a handle ``P/S``:

1. ask the root (``root_address``) for the prefix handle ``0.NA/P`` (HS_SITE
   and HS_SERV values), following service referrals (the root refers
   ``0.NA/88.118.9`` to the secondary node that holds it); a prefix handle
   that does not exist is retried with ``P``'s parents;
2. turn the values into sites: HS_SITE values directly (the newest serial
   number known for a site wins, see :class:`SiteCache`), HS_SERV values by
   resolving the service handle they name (``0.NA/0.NA`` means the root);
3. ask those sites for the handle (the server chosen by the site's hash of
   the handle, :mod:`protocol.server_select` via the client) and follow every
   RC_SERVICE_REFERRAL the same way.

A walk that started from a local referral begins at step 3.  Every request
sent upstream has the recursive flag cleared, so the servers asked never
recurse themselves.  Each hop has a timeout; a walk makes at most
``max_hops`` requests and asking the same site about the same handle twice is
a referral loop: both end with RC_RECURSION_COUNT_TOO_HIGH and a message
naming the handle.  When no server of any site answers, :class:`UpstreamError`
lets the caller serve a stale answer instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol.constants import (
    NA_HANDLE_PREFIX,
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_PREFIX_REFERRAL,
    RC_RECURSION_COUNT_TOO_HIGH,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
    ROOT_HANDLE,
    TYPE_HS_SERV,
    TYPE_HS_SITE,
    TYPE_HS_SITE_6,
    response_code_name,
)
from protocol.errors import ProtocolError
from protocol.site_info import SiteInfo, decode_site_info
from protocol.values import HandleValue
from registry.names import name_key
from resolver.core.cache import Answer, Clock, Kind, expiry
from resolver.core.client import HandleClient, HandleClientError, Target, endpoints
from resolver.core.model import ServiceError
from resolver.core.referral import REFERRAL_TYPES, candidate_prefixes
from resolver.core.upstream import (
    FanOutExceeded,
    UpstreamPolicy,
    check_upstream_name,
    upstream_budget,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_HOPS = 16
DEFAULT_HOP_TIMEOUT = 5.0
_SITE_TYPES = (TYPE_HS_SITE, TYPE_HS_SITE_6, "HS_SITE.PREFIX")
_SERVICE_TYPES = (TYPE_HS_SERV, "HS_SERV.PREFIX")


SiteId = frozenset[tuple[str, int | None, int | None]]
"""A site as the set of its servers' (host, TCP port, UDP port)."""


class UpstreamError(Exception):
    """No server that should know the answer could be asked (stale-if-error applies)."""

    def __init__(self, response_code: int, message: str) -> None:
        super().__init__(message)
        self.response_code = response_code
        self.message = message


def site_identity(target: Target) -> SiteId:
    """The servers of ``target``: what makes two referrals point at the same place."""
    return frozenset((e.host, e.tcp_port, e.udp_port) for e in endpoints(target, "/"))


class SiteCache:
    """Decoded HS_SITE values; for one site (same servers) the highest serial number wins.

    An older copy of a site (from a cached referral, say) is replaced by the
    newest version seen, as a CNRI client refreshes site info when it sees a
    higher serial number.
    """

    def __init__(self, max_size: int = 1024) -> None:
        self.max_size = max_size
        self._decoded: OrderedDict[bytes, SiteInfo] = OrderedDict()
        self._newest: dict[SiteId, SiteInfo] = {}

    def site(self, data: bytes) -> SiteInfo:
        """The site ``data`` encodes, or a newer version of it; ProtocolError if damaged."""
        site = self._decoded.get(data)
        if site is None:
            site = decode_site_info(data)
            self._decoded[data] = site
            if len(self._decoded) > self.max_size:
                self._decoded.popitem(last=False)
        identity = site_identity(site)
        known = self._newest.get(identity)
        if known is not None and known.serial_number > site.serial_number:
            return known
        if known is None and len(self._newest) >= self.max_size:
            self._newest.clear()
        self._newest[identity] = site
        return site


@dataclass
class _Walk:
    """The state of one recursive resolution: hops made, the chain, what was asked where."""

    handle: str
    hops: int = 0
    chain: list[str] = field(default_factory=list)
    asked: set[tuple[str, SiteId]] = field(default_factory=set)
    services: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Reply:
    code: int
    values: tuple[HandleValue, ...]
    source: str
    authoritative: bool


class RecursiveResolver:
    """Resolves handles anywhere by following referrals from ``root`` (None: no root).

    ``max_hops`` bounds the requests of one resolution; ``hop_timeout`` bounds
    each (seconds); answers expire by their values' TTLs (``negative_ttl`` for
    a handle that does not exist).  ``policy`` (:mod:`resolver.core.upstream`)
    says which addresses may be connected to and bounds the connections of one
    client request (without it: anywhere, only ``max_hops`` bounds).  Why an
    upstream server failed is logged, never put in the error: the client gets
    the same words whether a port was closed, silent or spoke garbage.
    """

    def __init__(
        self,
        root: Target | None,
        *,
        client: HandleClient | None = None,
        max_hops: int = DEFAULT_MAX_HOPS,
        hop_timeout: float = DEFAULT_HOP_TIMEOUT,
        negative_ttl: float = 60.0,
        clock: Clock = time.time,
        policy: UpstreamPolicy | None = None,
    ) -> None:
        self.root = root
        self.client = client or HandleClient(timeout=hop_timeout / 2, attempts=1)
        self.policy = policy
        if policy is not None and self.client.gate is None:
            self.client.gate = policy.gate
        self.max_hops = max_hops
        self.hop_timeout = hop_timeout
        self.negative_ttl = negative_ttl
        self.clock = clock
        self.sites = SiteCache()

    async def from_root(self, handle: str) -> Answer:
        """Resolve ``handle`` starting at the root."""
        check_upstream_name(handle)
        with self._budget():
            return await self._from_root(handle)

    async def follow(self, handle: str, referral: Sequence[HandleValue]) -> Answer:
        """Resolve ``handle`` starting from the sites of a local referral."""
        check_upstream_name(handle)
        with self._budget():
            walk = _Walk(handle)
            walk.chain.append(f"{handle}@local")
            return await self._walk(walk, handle, await self._targets(walk, referral))

    def _budget(self) -> contextlib.AbstractContextManager[None]:
        if self.policy is None:
            return contextlib.nullcontext()
        return upstream_budget(self.policy.max_connections)

    async def _from_root(self, handle: str) -> Answer:
        walk = _Walk(handle)
        prefix, slash, _ = handle.partition("/")
        if not slash or name_key(prefix) == name_key(NA_HANDLE_PREFIX[:-1]):
            return await self._walk(walk, handle, [self._root()])
        for candidate in candidate_prefixes(handle):
            service = await self._walk(
                walk, NA_HANDLE_PREFIX + candidate, [self._root()], REFERRAL_TYPES
            )
            if service.kind is Kind.FOUND and service.values:
                return await self._walk(walk, handle, await self._targets(walk, service.values))
        return self._answer(walk, _Reply(RC_HANDLE_NOT_FOUND, (), walk.chain[-1], True))

    def _root(self) -> Target:
        if self.root is None:
            raise UpstreamError(RC_ERROR, "no root address is configured")
        return self.root

    async def _walk(
        self, walk: _Walk, handle: str, targets: list[Target], types: Sequence[str] = ()
    ) -> Answer:
        while True:
            reply = await self._ask_any(walk, handle, targets, types)
            if reply.code not in (RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL):
                return self._answer(walk, reply)
            targets = await self._targets(walk, reply.values)

    async def _ask_any(
        self, walk: _Walk, handle: str, targets: list[Target], types: Sequence[str]
    ) -> _Reply:
        problem = UpstreamError(RC_ERROR, f"no server to ask about {handle}")
        for target in targets:
            asked = (name_key(handle), site_identity(target))
            if asked in walk.asked:
                raise ServiceError(
                    RC_RECURSION_COUNT_TOO_HIGH,
                    f"referral loop resolving {walk.handle}: asked the same site about "
                    f"{handle} twice (chain: {' -> '.join(walk.chain)})",
                )
            walk.asked.add(asked)
            walk.hops += 1
            if walk.hops > self.max_hops:
                raise ServiceError(
                    RC_RECURSION_COUNT_TOO_HIGH,
                    f"more than {self.max_hops} requests resolving {walk.handle} "
                    f"(chain: {' -> '.join(walk.chain)})",
                )
            try:
                async with asyncio.timeout(self.hop_timeout):
                    res = await self.client.resolve(
                        handle, types, server=target, recursive=False
                    )
            except FanOutExceeded as exc:
                raise UpstreamError(
                    RC_ERROR, f"resolving {walk.handle} needs more than {exc.limit} "
                    "upstream connections"
                ) from None
            except (HandleClientError, TimeoutError, ProtocolError) as exc:
                log.info("upstream failed asking about %r: %r", handle, exc)
                code = getattr(exc, "response_code", RC_ERROR)
                problem = UpstreamError(code, f"no server answered about {handle}")
                continue
            walk.chain.append(f"{handle}@{res.source}")
            if res.response_code in (RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL):
                values = res.referral_values
            else:
                values = tuple(res.values)
            return _Reply(res.response_code, values, res.source, res.authoritative)
        raise problem

    async def _targets(self, walk: _Walk, values: Sequence[HandleValue]) -> list[Target]:
        """The sites ``values`` (HS_SITE / HS_SERV) send a client to, primaries first."""
        sites: list[SiteInfo] = []
        targets: list[Target] = []
        for value in values:
            if value.type in _SITE_TYPES:
                try:
                    sites.append(self.sites.site(value.data))
                except ProtocolError:
                    continue
        for value in values:
            if value.type in _SERVICE_TYPES:
                targets += await self._service_sites(walk, value.data.decode("utf-8", "replace"))
        sites.sort(key=lambda s: not s.is_primary)
        unique: dict[SiteId, Target] = {}
        for target in [*(s for s in sites if s.servers), *targets]:
            unique.setdefault(site_identity(target), target)
        targets = list(unique.values())
        if not targets:
            raise ServiceError(
                RC_ERROR, f"a referral for {walk.handle} names no usable server"
            )
        return targets

    async def _service_sites(self, walk: _Walk, service: str) -> list[Target]:
        if name_key(service) == name_key(ROOT_HANDLE):
            return [self._root()]
        if name_key(service) in walk.services:
            return []
        walk.services.add(name_key(service))
        answer = await self._walk(walk, service, [self._root()], REFERRAL_TYPES)
        if answer.kind is not Kind.FOUND:
            return []
        return await self._targets(walk, answer.values)

    def _answer(self, walk: _Walk, reply: _Reply) -> Answer:
        now = self.clock()
        chain = tuple(walk.chain)
        if reply.code == RC_SUCCESS or reply.code == RC_VALUES_NOT_FOUND:
            return Answer(
                Kind.FOUND, reply.values, expiry(reply.values, now, self.negative_ttl),
                reply.source, chain, reply.authoritative, fetched=now,
            )
        if reply.code == RC_HANDLE_NOT_FOUND:
            return Answer(
                Kind.ABSENT, (), now + self.negative_ttl, reply.source, chain, reply.authoritative,
                fetched=now,
            )
        raise UpstreamError(
            reply.code, f"{reply.source} answered {response_code_name(reply.code)} "
            f"for {walk.handle}"
        )
