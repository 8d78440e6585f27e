"""A parts tree spread over two real nodes, traced down through the recursive resolver.

The world of :mod:`tests.resolver.core.test_recursive` (root, this node hosting
88.118.8 and delegating 88.118.9 to an enterprise node, each with its own
store and Handle server) holds a machine on this node whose tyre, and the
tyre's compound batch, live on the enterprise node, while the compound's
natural rubber batch is back on this node; a pump sits under a prefix whose
server does not answer.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocol.constants import RC_SUCCESS
from registry.bootstrap import delegate_prefix
from resolver.core.site import build_site_info, site_info_value
from resolver.core.trace import Tracer, record_verifier
from tests.resolver.core.test_recursive import World, put, running_world
from tests.resolver.core.test_trace_support import find, handles_in, templated

MACHINE = "88.118.8/WL-1"
TYRE = "88.118.9/TY-1"
COMPOUND = "88.118.9/MB-TRD-1"
NATURAL = "88.118.8/MB-NR-1"
PUMP = "88.118.6/PUMP-1"


def batch(number: str, *sources: str) -> dict[str, object]:
    doc: dict[str, object] = {"batch_number": number, "material_type": "rubber_compound",
                              "production_date": "2024-01-02", "quantity": 2.5, "unit": "t"}
    if sources:
        doc["source_batches"] = list(sources)
    return doc


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as started:
        node, enterprise = started.node, started.enterprise
        machine = {"equipment_type": "wheel_loader", "model": "LW500FN",
                   "serial": "WL2402010000001", "manufacturer": "Taishan (demo)",
                   "manufacture_date": "2024-02-01",
                   "rated_power_kw": 162, "components": [TYRE, PUMP]}
        tyre = {"product_kind": "tyre", "model": "LH-OTR5", "serial": "TY2401200000001",
                "size": "23.5-25",
                "compound": "TRD-4471", "curing_date": "2024-01-20", "factory": "CN-QD05",
                "dot_week": "0324", "load_index": 185, "speed_rating": "B",
                "batches": [COMPOUND]}
        await put(node, MACHINE, templated("machinery.equipment@1", machine))
        await put(node, NATURAL, templated("material.batch@1", batch("NR-1")))
        await put(enterprise, TYRE, templated("rubber.product@1", tyre))
        await put(enterprise, COMPOUND, templated("material.batch@1", batch("TRD-1", NATURAL)))
        dead = site_info_value(build_site_info([("127.0.0.1", closed_port())]))
        await delegate_prefix(node.store, "88.118.6", dead, node_prefix="88.118", owner=None,
                              actor="test")
        yield started


async def test_a_three_level_tree_across_two_nodes(world: World) -> None:
    service = world.node.service
    tracer = Tracer(service, verifier=record_verifier(service), hop_timeout=3.0)
    answer = await tracer.trace(MACHINE, direction="down", depth=4)
    assert answer["responseCode"] == RC_SUCCESS
    tree = answer["down"]
    assert (tree["source"], tree["signature"]) == ("local", "unsigned")
    tyre = find(tree, "children", TYRE)
    assert (tyre["relation"], tyre["source"], tyre["template"]) == (
        "component", world.enterprise.name, "rubber.product@1")
    compound = find(tyre, "children", COMPOUND)
    assert (compound["relation"], compound["source"]) == ("batch", world.enterprise.name)
    natural = find(compound, "children", NATURAL)
    assert (natural["source"], natural["signature"]) == ("local", "unsigned")
    pump = find(tree, "children", PUMP)
    assert pump["error"] == "unreachable" and "responseCode" in pump and pump["message"]
    assert handles_in(tree, "children") == {TYRE, COMPOUND, NATURAL, PUMP}


async def test_where_used_is_answered_by_each_node_from_its_own_index(world: World) -> None:
    upstream = await Tracer(world.enterprise.service).trace(NATURAL, direction="up", depth=3)
    assert handles_in(upstream["up"], "usedIn") == {COMPOUND, TYRE}
    assert upstream["node"]["source"] == world.node.name
    here = await Tracer(world.node.service).trace(TYRE, direction="up")
    assert here["up"]["usedIn"] == [{"handle": MACHINE, "relation": "component",
                                     "source": "local", "name": "LW500FN wheel_loader",
                                     "signature": "unchecked", "usedIn": []}]
