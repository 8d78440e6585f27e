"""Template document <-> Handle values (the scheme is described in :mod:`registry.templates`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from protocol.values import HandleValue
from registry.events import EVENT_TYPE, json_object
from registry.templates.errors import TemplateError

TYPE_TEMPLATE = "TRACE.TEMPLATE"
TYPE_DATA = "TRACE.DATA"
TYPE_COMPONENT = "TRACE.COMPONENT"
TYPE_BATCH = "TRACE.BATCH"
LINK_RELATIONS: Mapping[str, str] = {TYPE_COMPONENT: "component", TYPE_BATCH: "batch"}
RESERVED_TYPES = frozenset({TYPE_TEMPLATE, TYPE_DATA, EVENT_TYPE, *LINK_RELATIONS})
DEFAULT_START_INDEX = 200

_CANONICAL = orjson.OPT_SORT_KEYS


def canonical_json(document: object) -> bytes:
    """``document`` as compact UTF-8 JSON with sorted keys (the ``TRACE.DATA`` bytes)."""
    try:
        return orjson.dumps(document, option=_CANONICAL)
    except TypeError as exc:
        raise TemplateError("document is not JSON", [f"/: {exc} (type)"]) from None


def field_bytes(value: Any) -> bytes:
    """One field as value data: text as UTF-8, anything else as compact JSON."""
    return value.encode("utf-8") if isinstance(value, str) else canonical_json(value)


def document_to_values(
    template_id: str,
    fields: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
    document: Mapping[str, Any],
    start_index: int,
) -> list[HandleValue]:
    """The values of ``document``: template id, whole document, fields, then links."""
    pairs = document_pairs(template_id, fields, links, document)
    return [HandleValue(i, vtype, data) for i, (vtype, data) in enumerate(pairs, start_index)]


def document_pairs(
    template_id: str,
    fields: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
    document: Mapping[str, Any],
) -> list[tuple[str, bytes]]:
    """``(type, data)`` of the values of ``document`` in :func:`document_to_values`' order
    (without making the values: a bulk write compares them with a record's)."""
    pairs = [(TYPE_TEMPLATE, template_id.encode("utf-8")), (TYPE_DATA, canonical_json(document))]
    return pairs + mapped_pairs(fields, links, document)


def mapped_pairs(
    fields: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
    document: Mapping[str, Any],
) -> list[tuple[str, bytes]]:
    """The field and link pairs of :func:`document_pairs` (those after the template id
    and the whole document)."""
    pairs = [(vtype, field_bytes(document[name])) for name, vtype in fields if name in document]
    for name, link_type in links:
        targets = document.get(name, ())
        for target in (targets,) if isinstance(targets, str) else targets:
            if not isinstance(target, str):
                problem = f"/{name}: {target!r} is not a handle (type)"
                raise TemplateError("document is not valid", [problem])
            pairs.append((link_type, target.encode("utf-8")))
    return pairs


def _only(values: Iterable[HandleValue], value_type: str) -> HandleValue:
    found = [v for v in values if v.type == value_type]
    if len(found) != 1:
        raise TemplateError(f"record has {len(found)} {value_type} values, expected 1")
    return found[0]


def values_to_document(values: Iterable[HandleValue]) -> tuple[str, dict[str, Any]]:
    """``(template id, document)`` of a record written by ``Template.to_values``."""
    values = list(values)
    template_id = _only(values, TYPE_TEMPLATE).data.decode("utf-8", "replace")
    return template_id, json_object(_only(values, TYPE_DATA), TYPE_DATA, TemplateError)


def links_of(values: Iterable[HandleValue]) -> list[tuple[str, str]]:
    """``(to_handle, relation)`` of every link value, in index order, without repeats."""
    ordered = sorted((v for v in values if v.type in LINK_RELATIONS), key=lambda v: v.index)
    pairs = ((v.data.decode("utf-8", "replace"), LINK_RELATIONS[v.type]) for v in ordered)
    return list(dict.fromkeys(pairs))
