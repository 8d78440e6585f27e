"""A recall list followed past this node: what contains a back-linked product at its home.

A back-link (:mod:`resolver.core.backlinks`) says that product P on another
node contains a part homed here; whether P is a finished product or goes into
something bigger only P's home node knows.  :meth:`FarRecall.follow` asks it
``GET /api/trace/{P}/affected?hops=N-1`` (its home found as for delivery,
:mod:`resolver.core.homes`) and puts the finished products it lists in P's
place (``levels`` added up, ``origin``/``server``/``signature`` of the
back-link kept when the far answer has none); P stays when its node lists
nothing (it is finished) or cannot be asked.  Bounded: at most ``hops`` nodes
deep (the far node is asked with one hop less, so a loop of back-links ends),
at most ``max_requests`` far requests per list, each within ``timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import quote

import aiohttp

from registry.errors import InvalidHandle
from registry.names import name_key, split_handle
from resolver.core.homes import HomeFinder, HomeNotFound
from resolver.core.recall import AffectedProduct

log = logging.getLogger(__name__)

DEFAULT_HOPS = 2
MAX_HOPS = 4
MAX_REQUESTS = 32
CONCURRENCY = 8
TIMEOUT = 10.0


class FarRecall:
    """Asks back-linked products' home nodes for their recall lists."""

    def __init__(self, finder: HomeFinder, *, scheme: str = "http",
                 max_requests: int = MAX_REQUESTS, timeout: float = TIMEOUT) -> None:
        self.finder = finder
        self.scheme = scheme
        self.max_requests = max_requests
        self.timeout = timeout

    async def follow(self, products: Sequence[AffectedProduct], hops: int
                     ) -> list[AffectedProduct]:
        """``products`` with each back-linked one replaced by what its home lists."""
        far = [p for p in products if p.origin][:self.max_requests] if hops > 0 else []
        if not far:
            return list(products)
        slots = asyncio.Semaphore(CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            answers = await asyncio.gather(*(self._ask(session, slots, p, hops - 1)
                                             for p in far))
        replaced = {id(p): found for p, found in zip(far, answers, strict=True) if found}
        result: dict[str, AffectedProduct] = {}
        for product in products:
            for one in replaced.get(id(product), [product]):
                result.setdefault(name_key(one.handle), one)
        return list(result.values())

    async def _ask(self, session: aiohttp.ClientSession, slots: asyncio.Semaphore,
                   product: AffectedProduct, hops: int) -> list[AffectedProduct]:
        try:
            prefix = split_handle(product.handle)[0]
            async with slots:
                urls = (await self.finder.home(prefix)).http_urls(self.scheme)
                if not urls:
                    return []
                url = f"{urls[0]}/api/trace/{quote(product.handle, safe='/')}/affected"
                async with session.get(url, params={"hops": str(hops)}) as response:
                    if response.status != 200:
                        return []
                    body = await response.json(content_type=None)
        except (InvalidHandle, HomeNotFound, aiohttp.ClientError, TimeoutError,
                ValueError) as exc:
            log.info("recall list not followed to %s: %r", product.handle, exc)
            return []
        listed = body.get("products") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            return []
        found = []
        for item in listed[:10_000]:
            if not isinstance(item, dict) or not isinstance(item.get("handle"), str):
                continue
            levels = item.get("levels")
            found.append(AffectedProduct(
                item["handle"], str(item.get("via", product.handle)),
                product.levels + (levels if isinstance(levels, int) else 1),
                str(item.get("origin") or product.origin),
                str(item.get("server") or product.server),
                str(item.get("signature") or product.signature)))
        return found
