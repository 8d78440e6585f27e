"""Product traceability lookups: the parts tree, where-used and the events, one call each.

:meth:`Tracer.trace` answers, for one handle and a ``direction``:

``down``
    the component / batch tree (``TRACE.COMPONENT`` and ``TRACE.BATCH``
    values) to ``depth`` levels, each identifier resolved through the
    resolution service with recursion, so parts registered on other nodes are
    fetched from them (``source`` says where each node was answered);
``up``
    where-used: every product that contains the handle, transitively, to
    ``depth`` levels, read level by level from the ``handle_links`` index
    (one indexed query per level, never a scan of the records), and the
    products on other nodes whose signed back-links this node keeps
    (:mod:`resolver.core.backlinks`): such a node carries ``backlink``
    (``origin``, the node that signed it, ``server``, whose key verified it,
    ``signature`` ``verified`` and ``signedAt``) and is fetched from its home
    like a part of the tree (``source``, ``name``, record ``signature``); what
    contains it in turn is its home node's where-used;
``events``
    the lifecycle events (:mod:`registry.events`) in time order;
``all``
    the three together.

Each node of a tree is a JSON object with ``handle``, ``relation``
(``component`` or ``batch``; none for the root), ``source`` and
``name`` (what people call the record,
:func:`registry.templates.display.describe`; absent for a record without a
template) and ``signature``: the verdict of :func:`record_verifier` (the
record's signatures checked up to the node's trust anchor, as ``?verify=true`` does
on ``/api/handles``: valid, invalid, unsigned, expired, revoked, untrusted),
or ``unchecked`` for a tracer made without a verifier; with a signature,
``signedBy`` names the signer the verdict comes from (``"300:0.NA/88.118.8"``).  Problems are
answered in the tree, never fatal: ``{"handle": ..., "error": "cycle"}`` for
a part that contains one of its own ancestors, ``"error": "unreachable"``
with ``responseCode`` and ``message`` for a part that could not be resolved
(not found, no server answering within the per-hop timeout...),
``"repeated": true`` for a part already shown elsewhere in the answer (shared
batches are expanded once), ``"more": N`` for a node whose ``N`` links lie
beyond ``depth``, and ``"error": "limit"`` once the answer holds
``max_nodes`` nodes (``truncated`` is then true).  However many parts live
elsewhere, one trace opens at most ``max_upstream_connections`` connections to
other servers (:func:`resolver.core.upstream.upstream_budget`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.constants import (
    RC_ERROR,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
    response_code_name,
)
from protocol.values import HandleValue
from registry.backlinks import BacklinkInfo
from registry.errors import InvalidValue
from registry.events import EVENT_TYPE, format_time, parse_event
from registry.names import name_key
from registry.templates import TYPE_TEMPLATE, links_of
from registry.templates.display import describe
from resolver.core.model import ANONYMOUS, Caller, ServiceError
from resolver.core.service import ResolutionService
from resolver.core.upstream import DEFAULT_MAX_CONNECTIONS, upstream_budget
from resolver.core.verification import verify_values

DIRECTIONS = ("down", "up", "events", "all")
DEFAULT_DEPTH = 5
MAX_DEPTH = 20
DEFAULT_MAX_NODES = 2000
DEFAULT_HOP_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 16
UNCHECKED = "unchecked"
VERIFIED = "verified"

Node = dict[str, Any]
#: ``verify(handle, public values)`` -> a signature status (valid, invalid, unsigned...) and
#: the signer the verdict comes from (``"300:0.NA/88.118.8"``, '' when none)
Verifier = Callable[[str, Sequence[HandleValue]], Awaitable[tuple[str, str]]]


class TraceRequestError(ValueError):
    """A trace request with a bad direction or depth."""


@dataclass
class _Budget:
    """How many more nodes the answer may hold."""

    left: int
    truncated: bool = False

    def take(self) -> bool:
        if self.left <= 0:
            self.truncated = True
            return False
        self.left -= 1
        return True


@dataclass
class _Resolved:
    """One node as resolved: its JSON, its links and its values (empty when unreachable)."""

    node: Node
    links: list[tuple[str, str]] = field(default_factory=list)
    values: tuple[HandleValue, ...] = ()

    @property
    def ok(self) -> bool:
        return "error" not in self.node


def event_json(value: HandleValue) -> dict[str, Any]:
    """One ``TRACE.EVENT`` value as JSON; a malformed one as ``{"index", "error"}``."""
    try:
        event = parse_event(value)
    except InvalidValue as exc:
        return {"index": value.index, "error": str(exc)}
    return {"index": event.index, "kind": event.kind, "time": format_time(event.time),
            "actor": event.actor, "place": event.place, "note": event.note}


def events_json(values: Sequence[HandleValue]) -> list[dict[str, Any]]:
    """The events among ``values``, oldest first (equal times by index), bad ones last."""
    found = [event_json(v) for v in values if v.type == EVENT_TYPE]
    return sorted(found, key=lambda e: ("error" in e, e.get("time", ""), e["index"]))


def record_verifier(service: ResolutionService) -> Verifier:
    """Signature checks through ``service`` (chain records resolved recursively)."""

    async def verify(handle: str, values: Sequence[HandleValue]) -> tuple[str, str]:
        report = await verify_values(service, handle, values, recursive=True)
        return str(report.status), report.deciding.signer if report.deciding else ""

    return verify


class Tracer:
    """Traceability lookups over a resolution service (and its store's links index)."""

    def __init__(
        self,
        service: ResolutionService,
        *,
        verifier: Verifier | None = None,
        max_nodes: int = DEFAULT_MAX_NODES,
        hop_timeout: float = DEFAULT_HOP_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_upstream_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.service = service
        self.max_upstream_connections = max_upstream_connections
        self.verifier = verifier
        self.max_nodes = max_nodes
        self.hop_timeout = hop_timeout
        self._slots = asyncio.Semaphore(concurrency)

    async def trace(
        self,
        handle: str,
        *,
        direction: str = "all",
        depth: int = DEFAULT_DEPTH,
        caller: Caller = ANONYMOUS,
    ) -> dict[str, Any]:
        """The answer for ``handle``; ``responseCode`` is that of resolving the handle itself."""
        if direction not in DIRECTIONS:
            raise TraceRequestError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if not 0 <= depth <= MAX_DEPTH:
            raise TraceRequestError(f"depth must be 0 to {MAX_DEPTH}")
        with upstream_budget(self.max_upstream_connections):  # the whole trace, not each part
            return await self._trace(handle, direction, depth, caller)

    async def _trace(self, handle: str, direction: str, depth: int, caller: Caller
                     ) -> dict[str, Any]:
        budget = _Budget(self.max_nodes - 1)
        root = await self._resolve(handle, caller)
        answer: dict[str, Any] = {
            "responseCode": root.node.get("responseCode", RC_SUCCESS), "handle": handle,
            "direction": direction, "depth": depth, "node": dict(root.node),
        }
        if direction in ("down", "all"):
            answer["down"] = await self._down(root, depth, budget, caller)
        if direction in ("up", "all"):
            answer["up"] = await self._up(handle, depth, budget, caller)
        if direction in ("events", "all"):
            answer["events"] = events_json(root.values)
        answer["nodes"] = self.max_nodes - budget.left
        answer["truncated"] = budget.truncated
        return answer

    # --- one node -----------------------------------------------------------------

    async def _resolve(self, handle: str, caller: Caller) -> _Resolved:
        node: Node = {"handle": handle}
        try:
            async with self._slots, asyncio.timeout(self.hop_timeout):
                res = await self.service.resolve(handle, caller=caller, recursive=True)
        except TimeoutError:
            return _Resolved(_unreachable(node, RC_ERROR,
                                          f"no answer within {self.hop_timeout:g} s"))
        except ServiceError as exc:
            return _Resolved(_unreachable(node, exc.response_code, exc.message))
        if res.response_code not in (RC_SUCCESS, RC_VALUES_NOT_FOUND):
            return _Resolved(_unreachable(node, res.response_code,
                                          response_code_name(res.response_code)))
        node["source"] = res.source
        if res.stale:
            node["stale"] = True
        await self._signature(node, res.values)
        template = next((v for v in res.values if v.type == TYPE_TEMPLATE), None)
        if template is not None:
            node["template"] = template.data.decode("utf-8", "replace")
        _name(node, res.values)
        return _Resolved(node, links_of(res.values), tuple(res.values))

    async def _signature(self, node: Node, values: Sequence[HandleValue]) -> None:
        """Set ``node``'s ``signature`` status and, when signed, ``signedBy``."""
        if self.verifier is None:
            node["signature"] = UNCHECKED
            return
        node["signature"], signer = await self.verifier(node["handle"], values)
        if signer:
            node["signedBy"] = signer

    # --- down: the parts tree -----------------------------------------------------

    async def _down(self, root: _Resolved, depth: int, budget: _Budget, caller: Caller) -> Node:
        tree = dict(root.node)
        if not root.ok:
            return tree
        seen = {name_key(tree["handle"])}
        level = [(tree, root.links, frozenset(seen))]
        for _ in range(depth):
            jobs: list[tuple[Node, frozenset[str]]] = []
            for parent, links, path in level:
                parent["children"] = []
                for to, relation in links:
                    child: Node = {"handle": to, "relation": relation}
                    parent["children"].append(child)
                    if _expand(child, path, seen, budget):
                        jobs.append((child, path | {name_key(to)}))
            found = await asyncio.gather(*(self._resolve(c["handle"], caller) for c, _ in jobs))
            level = []
            for (child, path), resolved in zip(jobs, found, strict=True):
                child.update({k: v for k, v in resolved.node.items() if k != "handle"})
                if resolved.links:
                    level.append((child, resolved.links, path))
        for parent, links, _path in level:
            parent["more"] = len(links)
        return tree

    # --- up: where-used -----------------------------------------------------------

    async def _up(self, handle: str, depth: int, budget: _Budget, caller: Caller) -> Node:
        tree: Node = {"handle": handle}
        view = await self.service.link_view(caller)
        seen = {name_key(handle)}
        level = [(tree, frozenset(seen))]
        for _ in range(depth):
            if not level:
                break
            handles = [n["handle"] for n, _ in level]
            users = await self.service.store.where_used_many(handles, view)
            remote = await self.service.store.backlinks_many(handles)
            next_level = []
            far: list[Node] = []
            for parent, path in level:
                parent["usedIn"] = []
                for link in remote.get(name_key(parent["handle"]), ()):
                    node = _backlink_node(link)
                    parent["usedIn"].append(node)
                    if _expand(node, path, seen, budget):
                        far.append(node)
                for user, relation in users.get(name_key(parent["handle"]), ()):
                    node = {"handle": user, "relation": relation}
                    parent["usedIn"].append(node)
                    if _expand(node, path, seen, budget):
                        next_level.append((node, path | {name_key(user)}))
            await asyncio.gather(*(self._mark_local(n, caller) for n, _ in next_level),
                                 *(self._mark_far(n, caller) for n in far))
            level = next_level
        if level:
            handles = [n["handle"] for n, _ in level]
            more = await self.service.store.where_used_many(handles, view)
            more_far = await self.service.store.backlinks_many(handles)
            for node, _path in level:
                count = len(more.get(name_key(node["handle"]), ())) + len(
                    more_far.get(name_key(node["handle"]), ()))
                if count:
                    node["more"] = count
        return tree

    async def _mark_local(self, node: Node, caller: Caller) -> None:
        """Where-used nodes come from this node's index: ``source`` local, signature if asked."""
        node["source"] = "local"
        async with self._slots:
            res = await self.service.resolve(node["handle"], caller=caller)
        _name(node, res.values)
        await self._signature(node, res.values)

    async def _mark_far(self, node: Node, caller: Caller) -> None:
        """A product homed on another node (a back-link): its record fetched from there
        (recursively, within the hop timeout) for its name, source and signature."""
        resolved = await self._resolve(node["handle"], caller)
        node.update({k: v for k, v in resolved.node.items() if k != "handle"})


def _backlink_node(link: BacklinkInfo) -> Node:
    """A where-used node for a back-link: the product, with who vouched for the link."""
    return {"handle": link.product, "relation": link.relation,
            "backlink": {"origin": link.origin, "server": link.server,
                         "signature": VERIFIED, "signedAt": format_time(link.signed_at)}}


def _name(node: Node, values: Sequence[HandleValue]) -> None:
    """Give ``node`` the name people know the record by (:func:`describe`), if it has one."""
    title = describe(values).title
    if title:
        node["name"] = title


def _expand(node: Node, path: frozenset[str], seen: set[str], budget: _Budget) -> bool:
    """Whether to resolve and expand ``node``; else mark it a cycle, a repeat or over the limit."""
    key = name_key(node["handle"])
    if key in path:
        node["error"] = "cycle"
    elif key in seen:
        node["repeated"] = True
    elif not budget.take():
        node["error"] = "limit"
    else:
        seen.add(key)
        return True
    return False


def _unreachable(node: Node, code: int, message: str) -> Node:
    node.update(error="unreachable", responseCode=code, message=message)
    return node
