"""Traceability on one node: template and event rules on every write path, the links index,
and the trace lookups (parts tree, where-used, events, cycles, unreachable parts, limits)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable

import pytest

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_INVALID_VALUE, RC_SUCCESS
from protocol.values import HandleValue
from registry.demo import generate
from registry.events import FIRST_EVENT_INDEX
from registry.store import HandleStore
from registry.templates import links_of
from resolver.core.model import ServiceError
from resolver.core.trace import Tracer, TraceRequestError
from tests.resolver.core.test_trace_support import (
    NODE_ADMIN,
    TEMPLATES,
    appliance,
    component,
    event,
    find,
    handles_in,
    linked,
    service_of,
    templated,
)

TV = "88.118.8/TV-1"
BOARD = "88.118.8/BOARD-1"


async def refused(coro: Awaitable[None]) -> str:
    """The message of the RC_INVALID_VALUE refusal ``coro`` ends in."""
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.response_code == RC_INVALID_VALUE, info.value.message
    return info.value.message


async def test_a_bad_registration_names_the_field_and_the_rule(database: HandleStore) -> None:
    service = service_of(database)
    bad = appliance(energy_grade="X", model=None)
    message = await refused(service.create_handle(TV, templated("appliance.product@1", bad),
                                                  caller=NODE_ADMIN))
    assert "/energy_grade: 'X' is not one of" in message and "(enum)" in message
    assert "/model: required field is missing (required)" in message
    message = await refused(service.replace_handle(
        TV, templated("appliance.product@1", appliance(rated_power_w="high")), caller=NODE_ADMIN))
    assert "/rated_power_w" in message and "(type)" in message
    assert await database.get_handle(TV) is None

    await service.create_handle(TV, templated("appliance.product@1", appliance()),
                                caller=NODE_ADMIN)
    extra_link = [HandleValue(500, "TRACE.COMPONENT", BOARD.encode())]
    message = await refused(service.add_values(TV, extra_link, caller=NODE_ADMIN))
    assert "/components: the TRACE.COMPONENT values differ from TRACE.DATA (mapping)" in message
    unknown = [HandleValue(1, "URL", b"x"), HandleValue(200, "TRACE.TEMPLATE", b"hose.fitting@3"),
               HandleValue(201, "TRACE.DATA", b"{}")]
    message = await refused(service.create_handle("88.118.8/X", unknown, caller=NODE_ADMIN))
    assert "hose.fitting@3" in message


async def test_an_operator_template_is_enforced_and_import_checks_too(
    database: HandleStore,
) -> None:
    schema = dict(TEMPLATES["component@1"].schema)
    schema["x-idnode"] = {**schema["x-idnode"], "name": "hose.fitting", "version": 2}
    schema["required"] = [*schema["required"], "serial"]
    await database.put_template("hose.fitting", 2, schema)
    base = TEMPLATES["component@1"].to_values(component(), check=False)
    values = [dataclasses.replace(v, data=b"hose.fitting@2") if v.type == "TRACE.TEMPLATE"
              else v for v in base]
    service = service_of(database)
    message = await refused(service.create_handle(BOARD, values, caller=NODE_ADMIN))
    assert "/serial: required field is missing (required)" in message

    result = await database.bulk_put(
        [(BOARD, values), (TV, templated("appliance.product@1", appliance()))], actor="import")
    assert result.inserted == 1
    [rejection] = result.rejected
    assert rejection.name == BOARD and rejection.response_code == RC_INVALID_VALUE
    assert "/serial: required field is missing (required)" in rejection.reason


async def test_events_are_append_only(database: HandleStore) -> None:
    service = service_of(database)
    first = event(0, "produced", "2024-01-02T08:00:00Z")
    await service.create_handle(TV, [*templated("appliance.product@1", appliance()), first],
                                caller=NODE_ADMIN)
    await service.add_values(TV, [event(1, "shipped", "2024-01-05T08:00:00Z")],
                             caller=NODE_ADMIN)
    changed = event(0, "produced", "2024-01-01T08:00:00Z")
    message = await refused(service.modify_values(TV, [changed], caller=NODE_ADMIN))
    assert f"event at index {FIRST_EVENT_INDEX} cannot be modified (events are append-only)" \
        in message
    message = await refused(service.remove_values(TV, [FIRST_EVENT_INDEX + 1], caller=NODE_ADMIN))
    assert "cannot be removed" in message
    message = await refused(service.replace_handle(
        TV, templated("appliance.product@1", appliance()), caller=NODE_ADMIN))
    assert "append-only" in message
    bad = HandleValue(FIRST_EVENT_INDEX + 2, "TRACE.EVENT", b'{"kind": "stolen"}')
    message = await refused(service.add_values(TV, [bad], caller=NODE_ADMIN))
    assert "'stolen'" in message
    record = await database.get_handle(TV)
    assert record is not None
    assert [v.index for v in record.values if v.type == "TRACE.EVENT"] == [1000, 1001]
    dropped = await database.bulk_put([(TV, templated("appliance.product@1", appliance()))],
                                      actor="import", overwrite=True)
    assert dropped.replaced == 0 and "append-only" in dropped.rejected[0].reason
    kept = await database.bulk_put([(TV, record.values)], actor="import", overwrite=True)
    assert (kept.replaced, kept.rejected) == (1, ())


async def test_the_links_index_follows_every_write(database: HandleStore) -> None:
    service = service_of(database)
    doc = appliance(components=[BOARD], batches=["88.118.10/MB-ABS-1"])
    await service.create_handle(TV, templated("appliance.product@1", doc), caller=NODE_ADMIN)
    assert await database.where_used(BOARD) == [(TV, "component")]
    assert await database.where_used("88.118.10/mb-abs-1") == [(TV, "batch")]
    doc = appliance(components=["88.118.8/BOARD-2"])
    await service.replace_handle(TV, templated("appliance.product@1", doc), caller=NODE_ADMIN)
    assert await database.where_used(BOARD) == []
    assert await database.where_used("88.118.8/BOARD-2") == [(TV, "component")]
    await database.replace_handle("88.118.8/KIT", linked(BOARD), actor="cli")
    assert await database.where_used(BOARD) == [("88.118.8/KIT", "component")]
    await service.delete_handle(TV, caller=NODE_ADMIN)
    assert await database.where_used("88.118.8/BOARD-2") == []
    await database.bulk_put([("88.118.8/KIT", linked(TV))], actor="import", overwrite=True)
    assert await database.where_used(BOARD) == []
    assert await database.where_used(TV) == [("88.118.8/KIT", "component")]


async def test_where_used_of_a_rubber_batch_finds_every_tyre_and_machine(
    database: HandleStore,
) -> None:
    records = list(generate(150, seed=3))
    assert not (await database.bulk_put(records, actor="demo")).rejected
    compound = next(h for h, _ in records if "/MB-TRD-" in h)
    tyres = {h for h, values in records if (compound, "batch") in links_of(values)}
    machines = {h for h, values in records
                if any((t, "component") in links_of(values) for t in tyres)}
    assert len(tyres) > 4 and machines

    answer = await Tracer(service_of(database)).trace(compound, direction="up", depth=3)
    assert answer["responseCode"] == RC_SUCCESS and not answer["truncated"]
    assert handles_in(answer["up"], "usedIn") == tyres | machines
    machine = find(answer["up"], "usedIn", sorted(machines)[0])
    assert machine["source"] == "local" and machine["signature"] == "unchecked"

    natural = next(h for h, _ in records if "/MB-NR-" in h)
    compounds = {h for h, values in records if (natural, "batch") in links_of(values)}
    deeper = await Tracer(service_of(database)).trace(natural, direction="up", depth=3)
    assert compounds and {n["handle"] for n in deeper["up"]["usedIn"]} == compounds
    assert compound not in compounds or tyres | machines <= handles_in(deeper["up"], "usedIn")


async def test_the_parts_tree_events_cycles_and_unreachable_parts(
    database: HandleStore,
) -> None:
    events = [event(0, "shipped", "2024-03-01T09:00:00Z"),
              event(1, "produced", "2024-02-01T09:00:00Z", note="<b>line 3</b>"),
              event(2, "sold", "2024-04-01T09:00:00Z")]
    doc = appliance(components=[BOARD, "88.118.8/GONE"], batches=["88.118.8/MB-1"])
    await database.create_handle(TV, [*templated("appliance.product@1", doc), *events],
                                 actor="test")
    await database.create_handle(BOARD, templated("component@1", component(
        components=["88.118.8/CHIP-1"], batches=["88.118.8/MB-1"])), actor="test")
    await database.create_handle("88.118.8/CHIP-1", linked(BOARD), actor="test")  # a cycle
    await database.create_handle("88.118.8/MB-1", linked(), actor="test")
    tracer = Tracer(service_of(database))

    answer = await tracer.trace(TV, depth=5)
    assert answer["node"] == {"handle": TV, "source": "local", "signature": "unchecked",
                              "template": "appliance.product@1"}
    tree = answer["down"]
    board = find(tree, "children", BOARD)
    assert board["relation"] == "component" and board["template"] == "component@1"
    assert find(board, "children", "88.118.8/CHIP-1")["children"] == [
        {"handle": BOARD, "relation": "component", "error": "cycle"}]
    gone = find(tree, "children", "88.118.8/GONE")
    assert gone["error"] == "unreachable" and gone["responseCode"] == RC_HANDLE_NOT_FOUND
    assert find(board, "children", "88.118.8/MB-1") == {
        "handle": "88.118.8/MB-1", "relation": "batch", "repeated": True}
    assert [(e["kind"], e["time"]) for e in answer["events"]] == [
        ("produced", "2024-02-01T09:00:00Z"), ("shipped", "2024-03-01T09:00:00Z"),
        ("sold", "2024-04-01T09:00:00Z")]
    assert answer["events"][0]["note"] == "<b>line 3</b>"
    assert answer["events"][0]["actor"] == "88.118.8/ORG-QC"

    up = await tracer.trace(BOARD, direction="up", depth=4)
    assert find(up["up"], "usedIn", "88.118.8/CHIP-1")["usedIn"] == [
        {"handle": BOARD, "relation": "component", "error": "cycle"}]
    assert handles_in(up["up"], "usedIn") == {TV, "88.118.8/CHIP-1", BOARD}

    shallow = await tracer.trace(TV, direction="down", depth=1)
    assert find(shallow["down"], "children", BOARD)["more"] == 2
    small = await Tracer(service_of(database), max_nodes=2).trace(TV, direction="down")
    assert small["truncated"] and small["nodes"] == 2
    assert [n.get("error") for n in small["down"]["children"]] == [None, "limit", "limit"]
    missing = await tracer.trace("88.118.8/NOPE", direction="down")
    assert missing["responseCode"] == RC_HANDLE_NOT_FOUND and "children" not in missing["down"]
    with pytest.raises(TraceRequestError):
        await tracer.trace(TV, direction="sideways")
    with pytest.raises(TraceRequestError):
        await tracer.trace(TV, depth=99)
