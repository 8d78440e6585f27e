"""Demo generator: deterministic, valid, streaming records with shared batches and parts trees."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator

import pytest

from protocol.values import HandleValue
from registry.demo import DEMO_ENTERPRISES, DEMO_PREFIXES, generate
from registry.events import events_of
from registry.models import INDUSTRIES
from registry.schemes import parse_identifier
from registry.templates import links_of, load_builtin_templates, values_to_document

Record = tuple[str, list[HandleValue]]
N = 400
RECORDS = list(generate(N, seed=11))


def where_used(records: list[Record]) -> dict[str, set[tuple[str, str]]]:
    used: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for handle, values in records:
        for target, relation in links_of(values):
            used[target].add((handle, relation))
    return used


def template_of(values: list[HandleValue]) -> str:
    return values_to_document(values)[0]


def test_same_seed_same_records_other_seed_other_records() -> None:
    assert list(generate(N, seed=11)) == RECORDS
    assert list(generate(N, seed=12)) != RECORDS


def test_every_record_follows_its_template_with_unique_handles_and_indexes() -> None:
    templates = load_builtin_templates()
    for handle, values in RECORDS:
        template_id, doc = values_to_document(values)
        templates[template_id].validate(doc)
        assert len({v.index for v in values}) == len(values), handle
        assert values[0].type == "URL"
        assert values[0].data == f"http://127.0.0.1:8000/trace/{handle}".encode()
    assert len({h for h, _ in RECORDS}) == len(RECORDS)


def test_products_of_all_three_industries_with_events_in_order() -> None:
    products = [(h, v) for h, v in RECORDS
                if template_of(v) in ("appliance.product@1", "machinery.equipment@1")
                or (template_of(v) == "rubber.product@1" and "installed" not in
                    {e.kind for e in events_of(v)})]
    assert len(products) == N
    for handle, values in products:
        events = events_of(values)
        assert [e.kind for e in events[:3]] == ["produced", "inspected", "shipped"], handle
    kinds = {e.kind for _, v in RECORDS for e in events_of(v)}
    assert kinds >= {"produced", "inspected", "shipped", "sold", "installed", "repaired",
                     "recalled"}


def test_links_point_only_backwards_to_records_already_given() -> None:
    seen: set[str] = set()
    for handle, values in RECORDS:
        assert {target for target, _ in links_of(values)} <= seen, handle
        seen.add(handle)


def test_prefixes_are_the_demo_enterprises_or_the_callers() -> None:
    assert {e.industry for e in DEMO_ENTERPRISES} == {"appliance", "machinery", "rubber"}
    assert set(DEMO_PREFIXES.values()) == {e.prefix for e in DEMO_ENTERPRISES}
    assert all(e.industry in INDUSTRIES and e.name for e in DEMO_ENTERPRISES)
    assert {h.split("/")[0] for h, _ in RECORDS} == set(DEMO_PREFIXES.values())
    mine = {"appliance": "77.1", "machinery": "77.2", "rubber": "77.3"}
    records = list(generate(50, seed=1, prefixes=mine, page_url="http://localhost/{handle}"))
    assert {h.split("/")[0] for h, _ in records} == {"77.1", "77.2", "77.3"}
    assert records[0][1][0].data == f"http://localhost/{records[0][0]}".encode()
    with pytest.raises(ValueError, match="prefixes lacks rubber"):
        next(generate(1, seed=1, prefixes={"appliance": "77.1", "machinery": "77.2"}))


def test_a_rubber_batch_reaches_machines_through_shared_tyres() -> None:
    used = where_used(RECORDS)
    compounds = [h for h, _ in RECORDS if "/MB-TRD-" in h]
    machine_tyres = 0
    for compound in compounds:
        tyres = {h for h, rel in used[compound] if "/TY-" in h and rel == "batch"}
        machines = {m for t in tyres for m, rel in used[t] if rel == "component"}
        standalone = {t for t in tyres if not used[t]}
        if len(tyres) > 1 and machines and standalone:
            machine_tyres += 1
            assert all(m.startswith(DEMO_PREFIXES["machinery"] + "/") for m in machines)
            natural = [h for h, _ in links_of(dict(RECORDS)[compound]) if "/MB-NR-" in h]
            assert natural and (compound, "batch") in used[natural[0]]
    assert machine_tyres > 0


def test_appliance_batches_are_shared_through_components() -> None:
    used = where_used(RECORDS)
    pcb = next(h for h, _ in RECORDS if "/MB-PCB-" in h)
    boards = {h for h, _ in used[pcb]}
    appliances = {a for b in boards for a, rel in used[b] if rel == "component"}
    assert len(boards) > 10 and len(appliances) == len(boards)
    steel = next(h for h, _ in RECORDS if "/MB-STEEL-" in h)
    assert len(used[steel]) > 10


def test_recalled_products_name_a_batch_they_are_made_from() -> None:
    by_handle = dict(RECORDS)
    recalled = 0
    for handle, values in RECORDS:
        for event in events_of(values):
            if event.kind == "recalled":
                recalled += 1
                batch = next(w for w in event.note.split() if "/MB-" in w)
                parts = {t for t, _ in links_of(values)}
                parts |= {t for p in parts if p in by_handle for t, _ in links_of(by_handle[p])}
                assert batch in parts, handle
    assert recalled > 0


def test_generation_streams_without_building_the_whole_run() -> None:
    stream = generate(1_000_000, seed=3)
    assert isinstance(stream, Iterator)
    first = list(itertools.islice(stream, 50))
    assert first == list(itertools.islice(generate(1_000_000, seed=3), 50))


def test_appliances_carry_unique_restricted_circulation_gs1_codes() -> None:
    keys = []
    for handle, values in RECORDS:
        codes = [v for v in values if v.type == "ID.GS1"]
        if "/ORG-" in handle or "/CMP-" in handle or not codes:
            continue
        (code,) = codes
        identifier = parse_identifier(code.data.decode())
        assert identifier.key.startswith("gs1:01/020")  # GS1 prefix 20x: never a real product
        keys.append(identifier.key)
    assert keys and len(set(keys)) == len(keys)
