"""What a templated record is called and says, for people: title, maker, date, place, fields.

The product page, the trace tree and the console show records by name
("Haiyue LU55X7 Smart TV", "PCB-TV-2201 control board", "NR-SMR20 batch
B-2024-011") rather than by handle.  :func:`describe` reads the record's
template document (``TRACE.TEMPLATE`` + ``TRACE.DATA``) and picks, per
template, the fields that name it; a record without a template is described
by nothing but its handle (``title`` is empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.values import HandleValue
from registry.templates.errors import TemplateError
from registry.templates.mapping import TYPE_TEMPLATE, values_to_document

# template name -> the fields whose values, joined, name the record
TITLE_FIELDS: dict[str, tuple[str, ...]] = {
    "appliance.product": ("product_name",),
    "component": ("part_number", "component_type"),
    "machinery.equipment": ("model", "equipment_type"),
    "material.batch": ("material_type", "grade", "batch_number"),
    "rubber.product": ("model", "size", "product_kind"),
}
FALLBACK_TITLE = ("product_name", "model", "part_number", "batch_number")
MAKER_FIELDS = ("brand", "manufacturer", "supplier")
DATE_FIELDS = ("production_date", "manufacture_date", "curing_date")
PLACE_FIELDS = ("factory", "origin_country")
# document fields shown as links or lists elsewhere, not as plain fields
NOT_PLAIN = frozenset({"components", "batches", "source_batches", "maintenance_records",
                       "specification", "test_results", "certificates", "standards"})


@dataclass(frozen=True, slots=True)
class Description:
    """A record as people read it."""

    template: str = ""          # e.g. ``appliance.product`` (no version)
    title: str = ""
    maker: str = ""
    made_on: str = ""
    place: str = ""
    serial: str = ""
    model: str = ""
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (field name, text)


def describe(values: Iterable[HandleValue]) -> Description:
    """The description of a record (empty for one without a readable template document)."""
    values = list(values)
    if not any(v.type == TYPE_TEMPLATE for v in values):
        return Description()
    try:
        template_id, doc = values_to_document(values)
    except TemplateError:
        return Description()
    name = template_id.split("@", 1)[0]
    title_fields = TITLE_FIELDS.get(name, FALLBACK_TITLE)
    title = " ".join(_text(doc[f]) for f in title_fields if doc.get(f) not in (None, ""))
    plain = tuple((k, _text(v)) for k, v in doc.items() if k not in NOT_PLAIN)
    return Description(
        template=name, title=title, maker=_first(doc, MAKER_FIELDS),
        made_on=_first(doc, DATE_FIELDS), place=_first(doc, PLACE_FIELDS),
        serial=_text(doc.get("serial", "")), model=_text(doc.get("model", "")), fields=plain,
    )


def _first(doc: dict[str, Any], names: Sequence[str]) -> str:
    return next((_text(doc[n]) for n in names if doc.get(n) not in (None, "")), "")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return str(value)
