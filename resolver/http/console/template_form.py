"""A form generated from an industry data template, checked field by field in the user's language.

:func:`form_fields` turns the template's JSON Schema properties into form
fields (text, number, date, choice, or one-per-line lists); object-valued
fields (``specification``, ``test_results``...) are not offered by the form
(bulk upload carries them).  :func:`parse_document` converts what was typed,
reports each broken rule next to its field (translated), then lets the
template's own validation have the last word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from registry.templates.errors import TemplateError
from registry.templates.model import Template
from resolver.http.console.forms import Form
from resolver.http.console.i18n import N_
from resolver.http.console.i18n import gettext as _

LABELS = {
    "model": N_("Model"), "serial": N_("Serial number"), "product_name": N_("Product name"),
    "category": N_("Category"), "brand": N_("Brand"), "production_date": N_("Production date"),
    "factory": N_("Factory code"), "production_line": N_("Production line"),
    "energy_grade": N_("Energy grade"), "rated_power_w": N_("Rated power"),
    "rated_voltage_v": N_("Rated voltage"), "net_weight_kg": N_("Net weight"),
    "color": N_("Colour"), "warranty_months": N_("Warranty"), "standards": N_("Standards"),
    "components": N_("Components"), "batches": N_("Material batches"),
    "part_number": N_("Part number"), "component_type": N_("Component type"),
    "manufacturer": N_("Manufacturer"), "equipment_type": N_("Equipment type"),
    "manufacture_date": N_("Manufacture date"), "rated_power_kw": N_("Rated power"),
    "rated_load_kg": N_("Rated load"), "operating_weight_kg": N_("Operating weight"),
    "fuel": N_("Fuel"), "emission_stage": N_("Emission stage"),
    "operating_hours": N_("Operating hours"), "batch_number": N_("Batch number"),
    "material_type": N_("Material type"), "grade": N_("Grade"), "supplier": N_("Supplier"),
    "origin_country": N_("Country of origin"), "expiry_date": N_("Expiry date"),
    "quantity": N_("Quantity"), "unit": N_("Unit"), "certificates": N_("Certificates"),
    "source_batches": N_("Source batches"), "product_kind": N_("Product kind"),
    "size": N_("Size"), "compound": N_("Compound"), "curing_date": N_("Curing date"),
    "curing_press": N_("Curing press"), "curing_temperature_c": N_("Curing temperature"),
    "curing_time_min": N_("Curing time"), "hardness_shore_a": N_("Hardness (Shore A)"),
    "dot_week": N_("DOT week"), "dot_plant_code": N_("DOT plant code"),
    "load_index": N_("Load index"), "speed_rating": N_("Speed rating"),
    "inner_diameter_mm": N_("Inner diameter"), "working_pressure_bar": N_("Working pressure"),
    "length_m": N_("Length"), "reinforcement": N_("Reinforcement"),
}
TITLES = {
    "appliance.product": N_("Home appliance product"),
    "machinery.equipment": N_("Machinery equipment"),
    "rubber.product": N_("Rubber product (tyre or hose)"),
    "component": N_("Component"),
    "material.batch": N_("Material batch"),
}
UNITS = {"_w": "W", "_v": "V", "_kg": "kg", "_kw": "kW", "_c": "°C", "_min": "min",
         "_mm": "mm", "_bar": "bar", "_m": "m", "_months": N_("months"), "_hours": "h"}
CHOICES = {
    "refrigerator": N_("Refrigerator"), "washing_machine": N_("Washing machine"),
    "air_conditioner": N_("Air conditioner"), "television": N_("Television"),
    "water_heater": N_("Water heater"), "dishwasher": N_("Dishwasher"),
    "microwave_oven": N_("Microwave oven"), "range_hood": N_("Range hood"),
    "tyre": N_("Tyre"), "hose": N_("Hose"), "forklift": N_("Forklift"),
    "excavator": N_("Excavator"), "wheel_loader": N_("Wheel loader"),
    "mobile_crane": N_("Mobile crane"), "agricultural_tractor": N_("Agricultural tractor"),
    "cnc_lathe": N_("CNC lathe"), "injection_molding_machine": N_("Injection moulding machine"),
    "air_compressor": N_("Air compressor"), "diesel": N_("Diesel"), "electric": N_("Electric"),
}


def template_title(template: Template) -> str:
    """A template's title in the request's language."""
    return _(TITLES[template.name]) if template.name in TITLES else template.title


@dataclass(frozen=True, slots=True)
class Field:
    """One form field made from a schema property."""

    name: str
    kind: str  # text, number, integer, date, select, lines
    required: bool
    options: tuple[str, ...] = ()
    unit: str = ""
    hint: str = ""

    @property
    def label(self) -> str:
        """The field's label in the request's language."""
        return _(LABELS.get(self.name, self.name))

    def option_label(self, value: str) -> str:
        """A choice's label in the request's language."""
        return _(CHOICES[value]) if value in CHOICES else value

    @property
    def unit_label(self) -> str:
        """The unit in the request's language."""
        return _(self.unit) if self.unit else ""


def _kind(spec: Mapping[str, Any]) -> str | None:
    kind = spec.get("type")
    if kind == "string":
        if "enum" in spec:
            return "select"
        return "date" if spec.get("format") == "date" else "text"
    if kind in ("number", "integer"):
        return str(kind)
    if kind == "array" and spec.get("items", {}).get("type", "string") == "string":
        return "lines"
    if kind == "array" and "$ref" in spec.get("items", {}):
        return "lines"
    return None


def _unit(name: str) -> str:
    return next((unit for suffix, unit in UNITS.items() if name.endswith(suffix)), "")


def form_fields(template: Template) -> list[Field]:
    """The fields of ``template``'s form, in the schema's order."""
    required = set(template.schema.get("required", ()))
    found = []
    for name, spec in template.schema.get("properties", {}).items():
        kind = _kind(spec)
        if kind is None:
            continue
        found.append(Field(name, kind, name in required, tuple(spec.get("enum", ())),
                           _unit(name), str(spec.get("pattern", ""))))
    return found


def _convert(field: Field, spec: Mapping[str, Any], text: str, form: Form) -> Any:
    """``text`` as the field's JSON value, or None after recording why it cannot be."""
    if field.kind in ("number", "integer"):
        try:
            number: float | int = int(text) if field.kind == "integer" else float(text)
        except ValueError:
            form.error(field.name, _("Enter a whole number.") if field.kind == "integer"
                       else _("Enter a number."))
            return None
        low, high = spec.get("minimum", spec.get("exclusiveMinimum")), spec.get("maximum")
        if (low is not None and number < low) or (high is not None and number > high) or (
                "exclusiveMinimum" in spec and number <= spec["exclusiveMinimum"]):
            form.error(field.name, _("Must be between {low} and {high}.").format(
                low=low if low is not None else "-", high=high if high is not None else "-"))
        return int(number) if isinstance(number, float) and number.is_integer() else number
    if field.kind == "date":
        try:
            date.fromisoformat(text)
        except ValueError:
            form.error(field.name, _("Enter a date like 2026-03-01."))
        return text
    if field.kind == "select":
        if text not in field.options:
            form.error(field.name, _("Choose one of the listed values."))
        return text
    if field.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    pattern = spec.get("pattern")
    if pattern and re.search(pattern, text) is None:
        form.error(field.name, _("Wrong format: capital letters, digits and the pattern {pattern}."
                                 ).format(pattern=pattern))
    if len(text) > int(spec.get("maxLength", 10_000)):
        form.error(field.name, _("At most {count} characters.").format(count=spec["maxLength"]))
    return text


def parse_document(template: Template, form: Form) -> dict[str, Any]:
    """The template document typed in ``form``; problems go to ``form.errors``."""
    properties = template.schema.get("properties", {})
    document: dict[str, Any] = {}
    for field in form_fields(template):
        text = form.get(field.name)
        if not text:
            if field.required:
                form.error(field.name, _("This field is required."))
            continue
        value = _convert(field, properties[field.name], text, form)
        if value is not None and value != []:
            document[field.name] = value
    if form.ok:
        try:
            template.validate(document)
        except TemplateError as exc:
            for line in exc.problems:
                name = line.lstrip("/").split("/", 1)[0].split(":", 1)[0]
                form.error(name if name in properties else "_form",
                           _("Not accepted by the template: {problem}").format(problem=line))
    return document


def document_facts(template: Template, document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, value)`` of every field of a stored document, in form order, translated."""
    facts = []
    for field in form_fields(template):
        if field.name not in document:
            continue
        value = document[field.name]
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        elif field.kind == "select":
            shown = field.option_label(str(value))
        else:
            shown = str(value)
        label = f"{field.label} ({field.unit_label})" if field.unit else field.label
        facts.append((label, shown))
    return facts


def document_as_form(document: Mapping[str, Any]) -> dict[str, str]:
    """A stored document as the text its form fields show."""
    shown = {}
    for name, value in document.items():
        if isinstance(value, list):
            shown[name] = "\n".join(str(v) for v in value)
        elif isinstance(value, str | int | float):
            shown[name] = str(value)
    return shown
