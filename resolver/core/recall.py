"""The recall list: every finished product that contains a part or batch, as a flat list.

Where-used (:meth:`Tracer.trace` ``direction="up"``) answers a tree for people
to read; a recall needs the list a script or a service desk works through:
the *finished* products among everything that contains the handle,
transitively — a handle in the where-used closure that nothing on this node
uses in turn (a washing machine, a tyre sold on its own) — each once, with
the part it was reached through and how many levels up it sits.

The walk reads the ``handle_links`` index one query per level
(:meth:`~registry.links.LinksMixin.where_used_many`), and the back-links other
nodes registered for their products that contain the handles of the level
(:meth:`~registry.backlinks.BacklinksMixin.backlinks_many`,
:mod:`resolver.core.backlinks`): such a product is homed on another node and
listed with ``origin`` (the node that signed the back-link), ``server`` (whose
key verified it) and ``signature`` ``verified``; what contains it in turn is
that node's where-used, which ``far`` (:mod:`resolver.core.far_recall`) asks
for, a bounded number of nodes deep.  At most
:data:`MAX_LEVELS` levels and ``max_nodes`` handles (``truncated`` says when
that cut it short): anonymous callers can ask, so the work is bounded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from registry.links import LinkView
from registry.names import name_key
from registry.store import HandleStore

MAX_LEVELS = 20
DEFAULT_MAX_NODES = 100_000
CSV_COLUMNS = ("product", "via", "levels", "origin", "signature")
VERIFIED = "verified"
#: follows back-linked products to their nodes (``FarRecall.follow``): (products, hops)
Far = Callable[[Sequence["AffectedProduct"], int], Awaitable[list["AffectedProduct"]]]


@dataclass(frozen=True, slots=True)
class AffectedProduct:
    """A finished product containing the recalled handle."""

    handle: str
    via: str      # the handle one level below it on the way up (the part it contains)
    levels: int   # 1: contains the recalled handle directly
    origin: str = ""     # the node a back-link came from; "" for a product homed here
    server: str = ""     # host:port of the server whose key verified the back-link
    signature: str = ""  # the back-link's signature status ("" for a product homed here)

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {"handle": self.handle, "via": self.via,
                                    "levels": self.levels}
        if self.origin:
            found.update(origin=self.origin, server=self.server, signature=self.signature)
        return found


@dataclass
class AffectedProducts:
    """The recall list of ``handle``."""

    handle: str
    products: list[AffectedProduct] = field(default_factory=list)
    truncated: bool = False

    def as_json(self) -> dict[str, object]:
        """The REST / ``--json`` form."""
        return {
            "handle": self.handle, "count": len(self.products), "truncated": self.truncated,
            "products": [p.as_json() for p in self.products],
        }

    def as_csv(self) -> str:
        """One row per product: ``product,via,levels,origin,signature`` (a header first)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows((p.handle, p.via, p.levels, p.origin, p.signature)
                         for p in self.products)
        return out.getvalue()


async def affected_products(
    store: HandleStore, handle: str, *, max_nodes: int = DEFAULT_MAX_NODES,
    far: Far | None = None, hops: int = 0, view: LinkView | None = None,
) -> AffectedProducts:
    """The finished products that contain ``handle`` (sorted by handle), through the
    links ``view`` shows (:class:`registry.links.LinkView`; all when None); with ``far``
    (:meth:`resolver.core.far_recall.FarRecall.follow`) back-linked products are
    followed up to ``hops`` nodes further."""
    answer = AffectedProducts(handle)
    seen = {name_key(handle)}
    level = [handle]
    users = await store.where_used_many(level, view)
    remote = await store.backlinks_many(level)
    found: dict[str, AffectedProduct] = {}
    for depth in range(1, MAX_LEVELS + 1):
        next_level: list[tuple[str, str]] = []   # (user, the part below it)
        for current in level:
            for link in remote.get(name_key(current), ()):
                if name_key(link.product) in seen:
                    continue
                if len(seen) > max_nodes:
                    answer.truncated = True
                    break
                seen.add(name_key(link.product))
                found[name_key(link.product)] = AffectedProduct(
                    link.product, current, depth, link.origin, link.server, VERIFIED)
            for user, _relation in users.get(name_key(current), ()):
                if name_key(user) in seen:
                    continue
                if len(seen) > max_nodes:
                    answer.truncated = True
                    break
                seen.add(name_key(user))
                next_level.append((user, current))
        if not next_level:
            break
        users = await store.where_used_many([user for user, _via in next_level], view)
        remote = await store.backlinks_many([user for user, _via in next_level])
        used = users.keys() | remote.keys()
        for user, via in next_level:
            if name_key(user) not in used:   # nothing uses it: a finished product
                found[name_key(user)] = AffectedProduct(user, via, depth)
        level = [user for user, _via in next_level if name_key(user) in used]
        if answer.truncated or not level:
            break
    else:
        answer.truncated = True   # MAX_LEVELS levels and still going up
    products = list(found.values())
    if far is not None and hops > 0:
        products = await far(products, hops)
    answer.products = sorted(products, key=lambda p: name_key(p.handle))
    return answer
