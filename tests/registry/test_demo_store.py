"""Demo records in a real store: they load, their links answer where-used, templates store."""

from __future__ import annotations

from registry.demo import generate
from registry.events import events_of
from registry.store import HandleStore
from registry.templates import (
    load_builtin_templates,
    template_from_json,
    values_to_document,
)


async def test_demo_records_load_and_trace_a_rubber_batch_to_machines(
    database: HandleStore,
) -> None:
    records = list(generate(120, seed=2))
    result = await database.bulk_put(records, actor="demo")
    assert (result.inserted, result.rejected) == (len(records), ())

    compound = next(h for h, _ in records if "/MB-TRD-" in h)
    tyres = [h for h, rel in await database.where_used(compound) if rel == "batch"]
    machines = {m for t in tyres for m, rel in await database.where_used(t) if rel == "component"}
    assert len(tyres) > 1 and machines
    natural = next(h for h, _ in records if "/MB-NR-" in h)
    assert (compound, "batch") in await database.where_used(natural)

    handle, values = next((h, v) for h, v in records if h in machines)
    stored = await database.get_handle(handle)
    assert stored is not None
    assert values_to_document(stored.values) == values_to_document(values)
    assert events_of(stored.values) == events_of(values)


async def test_template_text_round_trips_through_the_templates_table(
    database: HandleStore,
) -> None:
    builtin = load_builtin_templates()
    for template in builtin.values():
        await database.put_template(template.name, template.version, template.to_json())
    info = await database.get_template("rubber.product")
    assert info is not None
    assert template_from_json(info.schema, source="stored") == builtin["rubber.product@1"]
    assert [i.name for i in await database.list_templates()] == sorted(
        t.name for t in builtin.values())
