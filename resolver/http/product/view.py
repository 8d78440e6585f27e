"""What a product page says, gathered from the resolution core (no HTML here).

One :meth:`Tracer.trace` (``all``: parts tree, where-used, events, each node
named by :func:`registry.templates.display.describe`), the recall list
(:func:`resolver.core.recall.affected_products`) and the maker: the
registered name of the enterprise owning the handle's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.values import HandleValue
from registry.names import split_handle
from registry.store import HandleStore
from registry.templates.display import Description, describe
from registry.trust.claims import ValueRef
from resolver.core.model import ANONYMOUS, Caller
from resolver.core.recall import affected_products
from resolver.core.trace import Tracer

PAGE_DEPTH = 3
RECALL_KINDS = ("recalled",)


@dataclass
class ProductView:
    """Everything the product page shows."""

    handle: str
    description: Description
    maker: str = ""
    signature: str = "unchecked"
    signer: str = ""
    recall: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    used_in: list[dict[str, Any]] = field(default_factory=list)
    affected: int = 0
    affected_truncated: bool = False


async def product_view(tracer: Tracer, handle: str, values: tuple[HandleValue, ...],
                       caller: Caller = ANONYMOUS) -> ProductView:
    """The view of ``handle`` for ``caller``, who already resolved the ``values`` it may read."""
    answer = await tracer.trace(handle, direction="all", depth=PAGE_DEPTH, caller=caller)
    view = ProductView(handle, describe(values))
    view.signature = str(answer["node"].get("signature", "unchecked"))
    signed_by = str(answer["node"].get("signedBy", ""))
    if signed_by:
        view.signer = await signer_name(tracer.service.store, signed_by)
    view.events = list(answer.get("events", []))
    recalls = [e for e in view.events if e.get("kind") in RECALL_KINDS]
    view.recall = recalls[-1] if recalls else None
    view.parts = list(answer.get("down", {}).get("children", []))
    view.used_in = list(answer.get("up", {}).get("usedIn", []))
    store = tracer.service.store
    affected = await affected_products(store, handle,
                                       view=await tracer.service.link_view(caller))
    view.affected, view.affected_truncated = len(affected.products), affected.truncated
    view.maker = await _maker(tracer, handle) or view.description.maker
    return view


async def signer_name(store: HandleStore, signer: str) -> str:
    """Who ``signer`` (``"300:0.NA/88.118.8"``) is in plain words: the registered name of
    the enterprise holding that prefix here with the prefix, else the prefix."""
    holder = ValueRef.parse(signer).handle
    _na, _slash, prefix = holder.partition("/")
    name = await _prefix_owner(store, prefix or holder)
    return f"{name} ({prefix})" if name else prefix or holder


async def _maker(tracer: Tracer, handle: str) -> str:
    """The registered name of the enterprise whose prefix holds ``handle`` ('' if none)."""
    prefix, _suffix = split_handle(handle)
    return await _prefix_owner(tracer.service.store, prefix)


async def _prefix_owner(store: HandleStore, prefix: str) -> str:
    """The registered name of the enterprise owning ``prefix`` here ('' if none)."""
    found = await store.match_prefix(prefix)
    if found is None or not found.owner:
        return ""
    enterprise = await store.get_enterprise(found.owner)
    return "" if enterprise is None else enterprise.name
