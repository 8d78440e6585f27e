"""Loading templates: the built-in schema files, operator files, stored template text.

A template file is a draft 2020-12 JSON Schema for an object, with an
``x-idnode`` block naming the template and mapping its fields to value types
(see :mod:`registry.templates`).  :func:`parse_template` checks the file
itself before anything uses it: its shape (:data:`TEMPLATE_FILE_SCHEMA`), that
it is a valid JSON Schema, and that the mapping names real fields, no reserved
value type and no type twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from registry.models import INDUSTRIES
from registry.templates.errors import TemplateError
from registry.templates.mapping import LINK_RELATIONS, RESERVED_TYPES
from registry.templates.model import Template
from registry.templates.validation import compile_schema, pointer, problems

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

TEMPLATE_KEY = "x-idnode"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE_INDUSTRIES = (*INDUSTRIES, "shared")
_FIELD = {"pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"}

TEMPLATE_FILE_SCHEMA: Mapping[str, Any] = {
    "$schema": DRAFT_2020_12,
    "type": "object",
    "required": ["$schema", "type", "properties", TEMPLATE_KEY],
    "properties": {
        "$schema": {"const": DRAFT_2020_12},
        "type": {"const": "object"},
        "title": {"type": "string", "maxLength": 200},
        "properties": {"type": "object", "minProperties": 1, "propertyNames": _FIELD},
        TEMPLATE_KEY: {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "version", "industry", "values"],
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": 128,
                    "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$",
                },
                "version": {"type": "integer", "minimum": 1},
                "industry": {"enum": list(TEMPLATE_INDUSTRIES)},
                "values": {
                    "type": "object",
                    "propertyNames": _FIELD,
                    "additionalProperties": {
                        "type": "string",
                        "maxLength": 64,
                        "pattern": "^TRACE\\.[A-Z][A-Z0-9_]*$",
                    },
                },
                "links": {
                    "type": "object",
                    "propertyNames": _FIELD,
                    "additionalProperties": {"enum": sorted(LINK_RELATIONS)},
                },
            },
        },
    },
}


@cache
def _file_checks() -> tuple[Draft202012Validator, Draft202012Validator]:
    """Validators of a template file's shape and of it being a JSON Schema (made on first use:
    jsonschema is only imported when a template is parsed)."""
    from jsonschema import Draft202012Validator

    return compile_schema(TEMPLATE_FILE_SCHEMA), compile_schema(Draft202012Validator.META_SCHEMA)


def _mapping_problems(schema: Mapping[str, Any]) -> list[str]:
    """What is wrong with the ``x-idnode`` mapping of an otherwise well-formed file."""
    meta = schema[TEMPLATE_KEY]
    properties = schema["properties"]
    values: Mapping[str, str] = meta["values"]
    links: Mapping[str, str] = meta.get("links", {})
    found = []
    seen: dict[str, str] = {}
    for section, mapping in (("values", values), ("links", links)):
        for name, value_type in mapping.items():
            at = pointer([TEMPLATE_KEY, section, name])
            if name not in properties:
                found.append(f"{at}: field {name!r} is not in /properties (mapping)")
            if section == "values" and value_type in RESERVED_TYPES:
                found.append(f"{at}: {value_type!r} is reserved (mapping)")
            if section == "values" and value_type in seen:
                other = seen[value_type]
                found.append(f"{at}: {value_type!r} is also the type of {other!r} (mapping)")
            seen.setdefault(value_type, name)
    for name in links:
        if name in values:
            found.append(f"{pointer([TEMPLATE_KEY, 'links', name])}: also in values (mapping)")
        field = properties.get(name)
        if isinstance(field, dict) and field.get("type") not in ("array", "string"):
            at = pointer(["properties", name])
            found.append(f"{at}: a link field must have type array or string (mapping)")
    return found


def parse_template(document: object, *, source: str = "template",
                   checked: bool = True) -> Template:
    """The :class:`Template` a template file's parsed JSON describes.

    Raises :class:`TemplateError` (``source: problem; ...``) on a bad file.
    ``checked=False`` is for the built-in files, which the tests check
    (``tests/registry/test_templates_files.py``): their checks would import jsonschema
    and compile the file schema in every process that reads a template, ~0.3 s of
    each ``idnode import``.
    """
    found: list[str] = []
    if checked:
        file_check, schema_check = _file_checks()
        found = problems(file_check, document) or problems(schema_check, document)
    if not found and isinstance(document, dict):
        found = _mapping_problems(document)
    if found or not isinstance(document, dict):
        raise TemplateError(f"{source}: not a valid template", found)
    meta = document[TEMPLATE_KEY]
    return Template(
        name=meta["name"],
        version=meta["version"],
        industry=meta["industry"],
        title=document.get("title", meta["name"]),
        fields=tuple(meta["values"].items()),
        links=tuple(meta.get("links", {}).items()),
        schema=document,
    )


def template_from_json(text: str | bytes, *, source: str = "template",
                       checked: bool = True) -> Template:
    """A template from its JSON text (a file's content, or ``data_templates.schema``)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        detail = (
            f"line {exc.lineno} column {exc.colno}: {exc.msg}"
            if isinstance(exc, json.JSONDecodeError)
            else str(exc)
        )
        raise TemplateError(f"{source}: not JSON", [detail]) from None
    return parse_template(document, source=source, checked=checked)


def load_template_file(path: str | os.PathLike[str]) -> Template:
    """The template in the file at ``path``, checked; :class:`TemplateError` if bad."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise TemplateError(f"{os.fspath(path)}: cannot read: {exc.strerror}") from None
    return template_from_json(text, source=os.fspath(path))


@cache
def _builtin() -> tuple[Template, ...]:
    folder = resources.files(__package__).joinpath("schemas")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return tuple(template_from_json(f.read_bytes(), source=f.name, checked=False)
                 for f in files)


def load_builtin_templates() -> dict[str, Template]:
    """The templates shipped in ``registry/templates/schemas``, keyed by ``name@version``."""
    return {t.id: t for t in _builtin()}


def find_template(templates: Mapping[str, Template], ref: str) -> Template:
    """``ref`` is ``name@version`` (that version) or ``name`` (its highest version)."""
    if ref in templates:
        return templates[ref]
    versions = [t for t in templates.values() if t.name == ref]
    if not versions:
        raise TemplateError(f"no template {ref!r}; known: {', '.join(sorted(templates))}")
    return max(versions, key=lambda t: t.version)
