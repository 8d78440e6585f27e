"""Shared builders of the traceability tests (templated records, links, events); no tests here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocol.values import HandleValue
from registry.events import FIRST_EVENT_INDEX, make_event_value
from registry.templates import TYPE_BATCH, TYPE_COMPONENT, load_builtin_templates
from resolver.core.model import Caller
from resolver.core.service import ResolutionService
from resolver.core.trace import Node

NODE_ADMIN = Caller("0.NA/88.118", 300)
TEMPLATES = load_builtin_templates()


def service_of(store: Any, **options: Any) -> ResolutionService:
    """A service where ``NODE_ADMIN`` is a server administrator."""
    return ResolutionService(store, server_admins=[("0.NA/88.118", 300)], **options)


def appliance(**changes: Any) -> dict[str, Any]:
    """A valid ``appliance.product@1`` document, with ``changes`` applied (None removes)."""
    doc: dict[str, Any] = {
        "model": "LU55X7", "serial": "TV2401020000001", "category": "television",
        "production_date": "2024-01-02", "factory": "CN-QD01", "energy_grade": "B",
        "rated_power_w": 120,
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def component(components: Sequence[str] = (), batches: Sequence[str] = ()) -> dict[str, Any]:
    """A valid ``component@1`` document linking to ``components`` and ``batches``."""
    doc: dict[str, Any] = {"part_number": "PCB-TV-2201", "component_type": "control_board",
                           "manufacturer": "Haiyue Electronics"}
    if components:
        doc["components"] = list(components)
    if batches:
        doc["batches"] = list(batches)
    return doc


def templated(template: str, doc: dict[str, Any]) -> list[HandleValue]:
    """A URL value and the values of ``doc`` under the built-in ``template``."""
    return [HandleValue(1, "URL", b"https://example.org/p"),
            *TEMPLATES[template].to_values(doc, check=False)]


def linked(*components: str, batches: Sequence[str] = ()) -> list[HandleValue]:
    """A record without a template: just component and batch links."""
    links = [(TYPE_COMPONENT, c) for c in components] + [(TYPE_BATCH, b) for b in batches]
    return [HandleValue(300 + i, vtype, to.encode()) for i, (vtype, to) in enumerate(links)]


def event(offset: int, kind: str, time: str, note: str = "", place: str = "Qingdao, CN"
          ) -> HandleValue:
    """A ``TRACE.EVENT`` value at ``FIRST_EVENT_INDEX + offset``."""
    return make_event_value(FIRST_EVENT_INDEX + offset, kind, "88.118.8/ORG-QC", place, time,
                            note)


def handles_in(tree: Node, key: str) -> set[str]:
    """Every handle below the root of a trace tree (``children`` or ``usedIn``)."""
    found: set[str] = set()
    for node in tree.get(key, ()):
        found.add(node["handle"])
        found |= handles_in(node, key)
    return found


def find(tree: Node, key: str, handle: str) -> Node:
    """The first node for ``handle`` in the tree, depth first."""
    for node in tree.get(key, ()):
        if node["handle"] == handle:
            return node
        try:
            return find(node, key, handle)
        except KeyError:
            continue
    raise KeyError(handle)
