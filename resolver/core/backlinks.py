"""Where-used across nodes: deliver this node's back-links, take other nodes' signed ones.

Design (docs/architecture.md, "Recalls across nodes"): the node where a
product record is written tells the home node of each part it names that is
homed elsewhere, "product P contains your part B", so that a recall of B at
B's home finds P.  Nothing goes through a central index: the part's home is
where where-used is asked, and it is found by ordinary Handle resolution of
the part's prefix (:mod:`resolver.core.homes`; the secondary node refers to
the enterprise nodes under it).

* **Sending** (:class:`BacklinkSender`): every write queues its added and
  dropped remote links in the store's outbox in the write's own transaction
  (:mod:`registry.backlinks`).  :meth:`BacklinkSender.deliver_due` takes the
  due rows, groups them by the part's prefix, signs each
  (:mod:`resolver.core.backlink_claims`, the node's server key) and POSTs at
  most :data:`MAX_PER_REQUEST` to ``/api/backlinks`` of the part's home;
  what it took leaves the outbox, the rest is retried with exponential
  back-off (``retry`` seconds doubling, at most :data:`MAX_BACKOFF`), so a
  home that is down gets everything once it is back.
* **Receiving** (:class:`BacklinkReceiver`): each statement must be well
  formed, signed within :data:`MAX_AGE` seconds (and not more than
  :data:`MAX_SKEW` ahead), about a part under a prefix hosted here and a
  product under a prefix that is not, and verify under the server key of the
  product prefix's home; a prefix may keep at most ``max_per_prefix`` active
  back-links here.  Anything else is refused with the reason, per statement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from registry.backlinks import FULL, OutboxItem, ReceivedBacklink
from registry.config import NodeConfig
from registry.errors import InvalidHandle
from registry.names import name_key, split_handle
from registry.store import HandleStore
from registry.trust.errors import TrustError
from registry.trust.keys import PrivateKey, load_private_key
from resolver.core.backlink_claims import Claim, ClaimError, read_claim, sign_claim
from resolver.core.homes import HomeFinder, HomeNotFound, home_finder
from resolver.core.service import ResolutionService

log = logging.getLogger(__name__)

PATH = "/api/backlinks"
MAX_PER_REQUEST = 100
MAX_DUE = 1000
MAX_AGE = 86_400
MAX_SKEW = 300
MAX_BACKOFF = 3600.0
DEFAULT_MAX_PER_PREFIX = 1_000_000
POST_TIMEOUT = 15.0
ACCEPTED = ("stored", "withdrawn", "stale")
REFUSED = "refused"


@dataclass
class Delivery:
    """What one :meth:`BacklinkSender.deliver_due` did."""

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failed": self.failed, "errors": self.errors}


def _refused(reason: str, message: str) -> dict[str, str]:
    return {"status": REFUSED, "reason": reason, "message": message}


def _prefix(handle: str) -> str:
    return split_handle(handle)[0]


class BacklinkReceiver:
    """Checks and keeps the back-links other nodes send (see the module docstring)."""

    def __init__(self, store: HandleStore, finder: HomeFinder, *,
                 max_per_prefix: int = DEFAULT_MAX_PER_PREFIX,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.finder = finder
        self.max_per_prefix = max_per_prefix
        self.clock = clock

    async def receive(self, items: object) -> list[dict[str, Any]]:
        """One result per statement, in order: ``status`` stored, withdrawn, stale (a newer
        one is here) or refused with ``reason`` and ``message``; :class:`ClaimError` when
        ``items`` is not a list of at most :data:`MAX_PER_REQUEST`."""
        if not isinstance(items, list) or not items:
            raise ClaimError("backlinks: must be a non-empty list of compact JWS strings")
        if len(items) > MAX_PER_REQUEST:
            raise ClaimError(f"backlinks: at most {MAX_PER_REQUEST} in one request, "
                             f"got {len(items)}")
        results = []
        for index, text in enumerate(items):
            try:
                result = await self._one(read_claim(text))
            except ClaimError as exc:
                result = _refused("malformed", str(exc))
            results.append({"index": index, **result})
        return results

    async def _one(self, claim: Claim) -> dict[str, str]:
        now = self.clock()
        if not now - MAX_AGE <= claim.iat <= now + MAX_SKEW:
            return _refused("expired", f"signed at {claim.iat}, not within {MAX_AGE} s of now")
        if not await self._hosted(claim.part):
            return _refused("not-here", f"{claim.part} is not homed on this node")
        product_prefix = _prefix(claim.product)
        if await self._hosted(claim.product):
            return _refused("local", f"{claim.product} is homed on this node itself")
        try:
            home = await self.finder.home(product_prefix)
        except HomeNotFound as exc:
            return _refused("origin-unknown", str(exc))
        server = next((where for where, key in home.server_keys() if claim.verifies(key)), None)
        if server is None:
            self.finder.forget(product_prefix)  # a changed key is seen on the next try
            return _refused("signature", f"the back-link from {claim.product} is not signed "
                                         f"by a server of {product_prefix}'s home node")
        status = await self.store.store_backlink(ReceivedBacklink(
            claim.part, claim.product, claim.relation, claim.op, claim.node, server,
            datetime.fromtimestamp(claim.iat, UTC), claim.jws.compact(),
        ), max_per_prefix=self.max_per_prefix)
        if status == FULL:
            return _refused("full", f"{product_prefix} has {self.max_per_prefix} back-links "
                                    "here already")
        return {"status": status, "origin": claim.node, "server": server}


    async def _hosted(self, handle: str) -> bool:
        """Whether the nearest registered prefix of ``handle`` is hosted here."""
        found = await self.store.match_prefix(_prefix(handle))
        return found is not None and found.kind == "hosted"


class BacklinkSender:
    """Delivers the outbox's back-links to the parts' home nodes (see the module docstring)."""

    def __init__(self, store: HandleStore, finder: HomeFinder, key: PrivateKey, node: str, *,
                 scheme: str = "http", retry: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.finder = finder
        self.key = key
        self.node = node
        self.scheme = scheme
        self.retry = retry
        self.clock = clock

    async def deliver_due(self) -> Delivery:
        """Deliver every due outbox row (at most :data:`MAX_DUE`), once."""
        report = Delivery()
        due = await self.store.due_backlinks(limit=MAX_DUE)
        groups: dict[str, list[OutboxItem]] = {}
        for item in due:
            try:
                groups.setdefault(name_key(_prefix(item.part)), []).append(item)
            except InvalidHandle:
                continue
        if not groups:
            return report
        timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for prefix, items in groups.items():
                for start in range(0, len(items), MAX_PER_REQUEST):
                    await self._deliver(session, prefix, items[start:start + MAX_PER_REQUEST],
                                        report)
        return report

    async def _deliver(self, session: aiohttp.ClientSession, prefix: str,
                       items: Sequence[OutboxItem], report: Delivery) -> None:
        try:
            home = await self.finder.home(prefix)
            urls = home.http_urls(self.scheme)
            if not urls:
                raise HomeNotFound(f"the home of {prefix} lists no HTTP interface")
            results = await self._post(session, urls[0], items)
        except (HomeNotFound, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.finder.forget(prefix)
            await self._failed(items, f"{prefix}: {exc}", report)
            return
        taken = [i for i, r in zip(items, results, strict=True) if r.get("status") in ACCEPTED]
        await self.store.backlinks_delivered(taken)
        report.delivered += len(taken)
        for item, result in zip(items, results, strict=True):
            if result.get("status") not in ACCEPTED:
                await self._failed([item], f"{item.part}: {result.get('message', result)}",
                                   report)

    async def _post(self, session: aiohttp.ClientSession, url: str,
                    items: Sequence[OutboxItem]) -> list[dict[str, Any]]:
        now = int(self.clock())
        claims = [sign_claim(self.key, op=i.op, part=i.part, product=i.product,
                             relation=i.relation, node=self.node, iat=now) for i in items]
        async with session.post(url + PATH, json={"backlinks": claims}) as response:
            body = await response.json(content_type=None)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(items):
            raise ValueError(f"{url}{PATH} answered {response.status} without results: "
                             f"{str(body)[:200]}")
        return [r if isinstance(r, dict) else {} for r in results]

    async def _failed(self, items: Sequence[OutboxItem], error: str, report: Delivery) -> None:
        log.info("back-links not delivered: %s", error)
        report.failed += len(items)
        report.errors.append(error)
        for item in items:
            wait = min(self.retry * 2 ** min(item.attempts, 20), MAX_BACKOFF)
            await self.store.backlinks_failed(
                [item], error, datetime.fromtimestamp(self.clock(), UTC) + timedelta(seconds=wait))

    async def run(self, interval: float) -> None:
        """Deliver due back-links every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # a database hiccup must not end the loop
                log.exception("back-link delivery failed")
            await asyncio.sleep(interval)


def receiver_from(service: ResolutionService, config: NodeConfig) -> BacklinkReceiver:
    """The receiver ``config`` asks for, over ``service``'s store and recursion."""
    return BacklinkReceiver(service.store, home_finder(service, config),
                            max_per_prefix=config.backlinks_max_per_prefix)


def sender_from(service: ResolutionService, config: NodeConfig) -> BacklinkSender | None:
    """The sender ``config`` asks for, signing with the node's server key (None without
    a usable one: back-links then wait in the outbox)."""
    path = config.path(config.server_key_path)
    try:
        key = load_private_key(path.read_bytes())
    except (OSError, TrustError) as exc:
        log.warning("back-links are not delivered: no usable server key at %s (%s)", path, exc)
        return None
    return BacklinkSender(service.store, home_finder(service, config), key,
                          ",".join(config.prefixes), scheme=config.backlinks_scheme,
                          retry=max(config.backlinks_interval, 1.0))
