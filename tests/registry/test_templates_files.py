"""Operator template files: a good file loads, a bad one fails with the place and the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry.templates import (
    TemplateError,
    load_builtin_templates,
    load_template_file,
    values_to_document,
)

Edit = Callable[[dict[str, Any]], None]


def base() -> dict[str, Any]:
    """A small valid template file: a conveyor belt, version 1."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Conveyor belt",
        "x-idnode": {
            "name": "rubber.conveyor_belt",
            "version": 1,
            "industry": "rubber",
            "values": {"serial": "TRACE.SERIAL", "width_mm": "TRACE.WIDTH_MM"},
            "links": {"batches": "TRACE.BATCH"},
        },
        "type": "object",
        "required": ["serial"],
        "properties": {
            "serial": {"type": "string", "pattern": "^[A-Z0-9]{6,20}$"},
            "width_mm": {"type": "integer", "minimum": 300, "maximum": 3000},
            "batches": {"type": "array", "items": {"type": "string"}},
        },
    }


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "belt.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_good_file_loads_and_maps_values(tmp_path: Path) -> None:
    template = load_template_file(write(tmp_path, base()))
    assert (template.id, template.industry, template.title) == (
        "rubber.conveyor_belt@1", "rubber", "Conveyor belt")
    doc = {"serial": "CB240101", "width_mm": 1200, "batches": ["88.118.10/MB-TRD-000001"]}
    values = template.to_values(doc)
    assert [(v.type, v.data) for v in values[2:]] == [
        ("TRACE.SERIAL", b"CB240101"), ("TRACE.WIDTH_MM", b"1200"),
        ("TRACE.BATCH", b"88.118.10/MB-TRD-000001")]
    assert values_to_document(values) == ("rubber.conveyor_belt@1", doc)
    with pytest.raises(TemplateError, match=r"/width_mm: 100 is less than the minimum of 300"):
        template.validate({"serial": "CB240101", "width_mm": 100})


def test_a_new_version_of_a_builtin_loads_from_its_own_text(tmp_path: Path) -> None:
    doc = json.loads(load_builtin_templates()["rubber.product@1"].to_json())
    doc["x-idnode"]["version"] = 2
    doc["properties"]["ply_rating"] = {"type": "integer", "minimum": 2, "maximum": 40}
    assert load_template_file(write(tmp_path, doc)).id == "rubber.product@2"


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"missing\.json: cannot read: No such file"):
        load_template_file(tmp_path / "missing.json")
    path = tmp_path / "broken.json"
    path.write_text('{"title": "x",\n  "type": }', encoding="utf-8")
    with pytest.raises(TemplateError, match=r"broken\.json: not JSON: line 2 column 11: Expecting"):
        load_template_file(path)


def _drop_meta(d: dict[str, Any]) -> None:
    del d["x-idnode"]


def _meta(**changes: Any) -> Edit:
    return lambda d: d["x-idnode"].update(changes)


def _prop(name: str, schema: Any) -> Edit:
    return lambda d: d["properties"].__setitem__(name, schema)


BAD_FILES: list[tuple[str, Edit, str]] = [
    ("no x-idnode block", _drop_meta, "/x-idnode: required field is missing (required)"),
    ("version not a number", _meta(version="one"),
     "/x-idnode/version: 'one' is not of type 'integer' (type)"),
    ("version zero", _meta(version=0), "/x-idnode/version: 0 is less than the minimum of 1"),
    ("unknown industry", _meta(industry="textiles"),
     "/x-idnode/industry: 'textiles' is not one of"),
    ("bad name", _meta(name="Conveyor Belt"), "/x-idnode/name: 'Conveyor Belt' does not match"),
    ("unknown key", _meta(owner="me"), "/x-idnode/owner: field is not allowed here"),
    ("value type outside TRACE.", _meta(values={"serial": "SERIAL"}),
     "/x-idnode/values/serial: 'SERIAL' does not match"),
    ("unknown link type", _meta(links={"batches": "TRACE.PART"}),
     "/x-idnode/links/batches: 'TRACE.PART' is not one of ['TRACE.BATCH', 'TRACE.COMPONENT']"),
    ("older draft", lambda d: d.update({"$schema": "http://json-schema.org/draft-07/schema#"}),
     "/$schema: 'https://json-schema.org/draft/2020-12/schema' was expected (const)"),
    ("not an object schema", lambda d: d.update(type="array"), "/type: 'object' was expected"),
    ("invalid JSON Schema", _prop("width_mm", {"type": "integr"}), "/properties/width_mm/type:"),
    ("bad regex", _prop("serial", {"type": "string", "pattern": "[A-Z"}),
     "/properties/serial/pattern: '[A-Z' is not a 'regex' (format)"),
    ("mapped field missing", _meta(values={"colour": "TRACE.COLOUR"}),
     "/x-idnode/values/colour: field 'colour' is not in /properties (mapping)"),
    ("reserved value type", _meta(values={"serial": "TRACE.DATA"}),
     "/x-idnode/values/serial: 'TRACE.DATA' is reserved (mapping)"),
    ("one type twice", _meta(values={"serial": "TRACE.SERIAL", "width_mm": "TRACE.SERIAL"}),
     "/x-idnode/values/width_mm: 'TRACE.SERIAL' is also the type of 'serial' (mapping)"),
    ("field both value and link", _meta(links={"serial": "TRACE.BATCH"}),
     "/x-idnode/links/serial: also in values (mapping)"),
    ("link field of the wrong type", _prop("batches", {"type": "integer"}),
     "/properties/batches: a link field must have type array or string (mapping)"),
]


@pytest.mark.parametrize(
    ("edit", "says"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_a_bad_file_names_the_place_and_the_rule(tmp_path: Path, edit: Edit, says: str) -> None:
    doc = base()
    edit(doc)
    path = write(tmp_path, doc)
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a valid template: ")
    assert says in message


def test_a_file_that_is_not_an_object(tmp_path: Path) -> None:
    expected = r"not a valid template: /: \[\] is not of type 'object'"
    with pytest.raises(TemplateError, match=expected):
        load_template_file(write(tmp_path, []))


def test_every_builtin_file_passes_the_checks_an_operator_file_gets() -> None:
    # the built-in files load without the file checks at run time (issue 17): they pass here
    folder = Path(__file__).resolve().parents[2] / "registry" / "templates" / "schemas"
    files = sorted(folder.glob("*.json"))
    builtin = load_builtin_templates()
    assert len(files) == len(builtin) > 0
    for path in files:
        checked = load_template_file(path)
        assert builtin[checked.id] == checked
