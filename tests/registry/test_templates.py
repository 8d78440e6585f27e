"""Built-in templates: samples validate, bad fields are named with their rule, values round-trip."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from protocol.constants import RC_INVALID_VALUE
from protocol.values import HandleValue
from registry.demo import generate
from registry.errors import InvalidValue
from registry.links import TemplateBook, check_template
from registry.templates import (
    DEFAULT_START_INDEX,
    TYPE_BATCH,
    TYPE_COMPONENT,
    TYPE_DATA,
    TYPE_TEMPLATE,
    Template,
    TemplateError,
    find_template,
    links_of,
    load_builtin_templates,
    template_from_json,
    values_to_document,
)
from registry.templates import model as template_model
from registry.templates.validation import compile_schema, fast_check, problems

BUILTIN = load_builtin_templates()
IDS = ["appliance.product@1", "component@1", "machinery.equipment@1", "material.batch@1",
       "rubber.product@1"]


def _samples() -> dict[str, dict[str, Any]]:
    """The first generated document of each template (and a hose for rubber.product)."""
    found: dict[str, dict[str, Any]] = {}
    for _handle, values in generate(60, seed=5):
        template_id, doc = values_to_document(values)
        key = "hose" if doc.get("product_kind") == "hose" else template_id
        found.setdefault(key, doc)
    return found


SAMPLES = _samples()


def sample(template_id: str) -> dict[str, Any]:
    return copy.deepcopy(SAMPLES[template_id])


def test_builtin_set_is_named_versioned_and_by_industry() -> None:
    assert sorted(BUILTIN) == IDS
    industries = {t.name: t.industry for t in BUILTIN.values()}
    assert industries == {"appliance.product": "appliance", "machinery.equipment": "machinery",
                          "rubber.product": "rubber", "material.batch": "shared",
                          "component": "shared"}
    assert all(t.version == 1 and t.id == f"{t.name}@1" for t in BUILTIN.values())


@pytest.mark.parametrize("key", [*IDS, "hose"])
def test_every_template_accepts_a_generated_sample(key: str) -> None:
    template_id = "rubber.product@1" if key == "hose" else key
    BUILTIN[template_id].validate(sample(key))


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.strip("/").split("/")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


_DELETE = object()
BAD = [
    ("appliance.product@1", "/energy_grade", "X", "'X' is not one of ['A', 'B',", "enum"),
    ("appliance.product@1", "/serial", "sn-1", "does not match", "pattern"),
    ("appliance.product@1", "/production_date", "2025-13-01", "is not a 'date'", "format"),
    ("appliance.product@1", "/rated_power_w", 0, "less than or equal to", "exclusiveMinimum"),
    ("appliance.product@1", "/model", _DELETE, "required field is missing", "required"),
    ("appliance.product@1", "/colour", "red", "field is not allowed here", "additionalProperties"),
    ("appliance.product@1", "/components/0", "CMP-1", "does not match", "pattern"),
    ("machinery.equipment@1", "/rated_power_kw", "150", "is not of type 'number'", "type"),
    ("machinery.equipment@1", "/equipment_type", "robot", "is not one of", "enum"),
    ("rubber.product@1", "/dot_week", "5425", "does not match", "pattern"),
    ("rubber.product@1", "/load_index", _DELETE, "required field is missing", "required"),
    ("rubber.product@1", "/size", "big", "does not match", "pattern"),
    ("rubber.product@1", "/batches", [], "should be non-empty", "minItems"),
    ("rubber.product@1", "/curing_temperature_c", 250, "greater than the maximum", "maximum"),
    ("material.batch@1", "/unit", "gallon", "is not one of", "enum"),
    ("material.batch@1", "/origin_country", "China", "does not match", "pattern"),
    ("component@1", "/component_type", "Compressor", "does not match", "pattern"),
    ("component@1", "/production_date", "04/01/2024", "is not a 'date'", "format"),
]


@pytest.mark.parametrize(("template_id", "pointer", "value", "says", "rule"), BAD)
def test_a_bad_field_is_named_with_the_rule_that_failed(
    template_id: str, pointer: str, value: Any, says: str, rule: str
) -> None:
    doc = sample(template_id)
    _set(doc, pointer, value)
    with pytest.raises(TemplateError) as caught:
        BUILTIN[template_id].validate(doc)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.startswith(f"{pointer}: ") and problem.endswith(f" ({rule})")
    assert says in problem
    assert str(caught.value) == f"document does not match {template_id}: {problem}"


def test_maintenance_record_errors_point_into_the_list() -> None:
    doc = sample("machinery.equipment@1")
    doc["maintenance_records"] = [{"date": "2024-05-01", "kind": "fixing"}, {"kind": "overhaul"}]
    with pytest.raises(TemplateError) as caught:
        BUILTIN["machinery.equipment@1"].validate(doc)
    assert caught.value.problems == (
        "/maintenance_records/0/kind: 'fixing' is not one of ['inspection', 'preventive', "
        "'corrective', 'overhaul', 'calibration'] (enum)",
        "/maintenance_records/1/date: required field is missing (required)",
    )


def test_every_problem_is_listed_and_the_error_carries_a_response_code() -> None:
    doc = sample("appliance.product@1")
    doc.update(energy_grade="X", serial="?", extra=1)
    with pytest.raises(TemplateError) as caught:
        BUILTIN["appliance.product@1"].validate(doc)
    pointers = [p.split(":")[0] for p in caught.value.problems]
    assert pointers == ["/energy_grade", "/extra", "/serial"]
    assert isinstance(caught.value, InvalidValue)
    assert caught.value.response_code == RC_INVALID_VALUE
    whole = r"^document does not match component@1: /: \[.* \(type\)$"
    with pytest.raises(TemplateError, match=whole):
        BUILTIN["component@1"].validate(["not", "an", "object"])


@pytest.mark.parametrize("template_id", IDS)
def test_to_values_and_back_give_the_same_document(template_id: str) -> None:
    template, doc = BUILTIN[template_id], sample(template_id)
    values = template.to_values(doc)
    assert values_to_document(values) == (template_id, doc)
    start = DEFAULT_START_INDEX
    assert [v.index for v in values] == list(range(start, start + len(values)))
    assert values[0].type == TYPE_TEMPLATE and values[0].data == template_id.encode()
    assert values[1].type == TYPE_DATA
    mapped = {name: vtype for name, vtype in template.fields}
    singles = {v.type: v.data for v in values[2:] if v.type not in (TYPE_COMPONENT, TYPE_BATCH)}
    assert set(singles) == {mapped[name] for name in doc if name in mapped}


def test_field_values_hold_text_as_is_and_numbers_as_json() -> None:
    doc = sample("appliance.product@1")
    values = {v.type: v.data for v in BUILTIN["appliance.product@1"].to_values(doc, start_index=10)}
    assert values["TRACE.MODEL"] == doc["model"].encode()
    assert values["TRACE.ENERGY_GRADE"] == doc["energy_grade"].encode()
    assert values["TRACE.RATED_POWER_W"] == str(doc["rated_power_w"]).encode()
    assert values["TRACE.RATED_VOLTAGE_V"] == b"220"


def test_to_values_checks_unless_told_not_to() -> None:
    template = BUILTIN["material.batch@1"]
    doc = sample("material.batch@1")
    doc["unit"] = "gallon"
    with pytest.raises(TemplateError, match=r"/unit: .* \(enum\)"):
        template.to_values(doc)
    assert values_to_document(template.to_values(doc, check=False))[1]["unit"] == "gallon"


def test_links_become_values_and_pairs_with_relations() -> None:
    doc = sample("appliance.product@1")
    values = BUILTIN["appliance.product@1"].to_values(doc)
    expected = [(h, "component") for h in doc["components"]]
    expected += [(h, "batch") for h in doc["batches"]]
    assert links_of(values) == expected
    assert [v.data.decode() for v in values if v.type == TYPE_COMPONENT] == doc["components"]


def test_links_of_orders_by_index_drops_repeats_and_ignores_other_values() -> None:
    values = [
        HandleValue(7, TYPE_BATCH, b"88.118.10/MB-TRD-000001"),
        HandleValue(3, TYPE_COMPONENT, b"88.118.10/TY-00000001"),
        HandleValue(9, TYPE_BATCH, b"88.118.10/MB-TRD-000001"),
        HandleValue(1, "URL", b"http://127.0.0.1/x"),
    ]
    assert links_of(values) == [("88.118.10/TY-00000001", "component"),
                                ("88.118.10/MB-TRD-000001", "batch")]
    assert links_of([]) == []


def test_values_to_document_refuses_records_it_cannot_read() -> None:
    good = BUILTIN["component@1"].to_values(sample("component@1"))
    with pytest.raises(TemplateError, match=r"0 TRACE\.TEMPLATE values"):
        values_to_document([v for v in good if v.type != TYPE_TEMPLATE])
    broken = [HandleValue(v.index, v.type, b"{oops") if v.type == TYPE_DATA else v for v in good]
    with pytest.raises(TemplateError, match=r"TRACE\.DATA at index 201 is not JSON"):
        values_to_document(broken)
    listed = [HandleValue(v.index, v.type, b"[1]") if v.type == TYPE_DATA else v for v in good]
    with pytest.raises(TemplateError, match="not a JSON object"):
        values_to_document(listed)


def test_find_template_by_name_or_exact_version() -> None:
    v2 = template_from_json(
        BUILTIN["component@1"].to_json().replace('"version": 1', '"version": 2'), source="v2"
    )
    templates: dict[str, Template] = {**BUILTIN, v2.id: v2}
    assert find_template(templates, "component").version == 2
    assert find_template(templates, "component@1").version == 1
    with pytest.raises(TemplateError, match="no template 'tyre'"):
        find_template(templates, "tyre")


@pytest.mark.parametrize("template_id", IDS)
def test_stored_text_reads_back_as_the_same_template(template_id: str) -> None:
    template = BUILTIN[template_id]
    again = template_from_json(template.to_json())
    assert again == template and again.schema == template.schema


@pytest.mark.parametrize(("template_id", "pointer", "value", "says", "rule"), BAD)
def test_the_fast_check_refuses_what_jsonschema_refuses(
    template_id: str, pointer: str, value: Any, says: str, rule: str
) -> None:
    doc = sample(template_id)
    assert fast_check(BUILTIN[template_id].schema)(doc)
    _set(doc, pointer, value)
    assert not fast_check(BUILTIN[template_id].schema)(doc)
    assert problems(compile_schema(BUILTIN[template_id].schema), doc)


def test_a_valid_document_is_not_shown_to_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_args: object) -> list[str]:
        raise AssertionError("jsonschema ran for a valid document")

    monkeypatch.setattr(template_model, "problems", never)
    BUILTIN["component@1"].validate(sample("component@1"))


def test_jsonschema_judges_what_the_fast_check_refuses() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "properties": {"mail": {"type": "string", "format": "email"},
                             "at": {"type": "string", "format": "date-time"}}}
    odd = {"mail": "a@b@c"}  # jsonschema's email format only asks for an "@"
    assert not fast_check(schema)(odd) and problems(compile_schema(schema), odd) == []
    loose = Template("loose", 1, "shared", "Loose", (), (), schema)
    loose.validate(odd)  # accepted, as before the fast check
    for at, ok in (("2024-01-02T03:04:05Z", True), ("2024-01-02 03:04:05Z", False),
                   ("2024-02-30T03:04:05Z", False)):
        assert fast_check(schema)({"at": at}) is ok
        assert (problems(compile_schema(schema), {"at": at}) == []) is ok


def test_a_record_matches_its_template_with_the_mapped_values_in_any_order() -> None:
    template = BUILTIN["appliance.product@1"]
    values = template.to_values(sample("appliance.product@1"))
    book = TemplateBook(None)  # type: ignore[arg-type]  # built-in templates only
    asyncio.run(check_template(book, values))
    # the last two mapped values at each other's index: other order, same pairs
    first, second = values[-2], values[-1]
    swapped = [*values[:-2], HandleValue(first.index, second.type, second.data),
               HandleValue(second.index, first.type, first.data)]
    asyncio.run(check_template(book, swapped))
    wrong = [*values[:-1], HandleValue(second.index, second.type, second.data + b"x")]
    with pytest.raises(TemplateError, match=r"differ from TRACE\.DATA"):
        asyncio.run(check_template(book, wrong))
