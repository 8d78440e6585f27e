"""The :class:`Template`: one versioned JSON Schema plus its field -> value-type mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from protocol.values import HandleValue
from registry.templates.errors import TemplateError
from registry.templates.mapping import (
    DEFAULT_START_INDEX,
    document_pairs,
    document_to_values,
    mapped_pairs,
)
from registry.templates.validation import compile_schema, fast_check, problems

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@dataclass(frozen=True)
class Template:
    """A data template; build one with :func:`registry.templates.parse_template`.

    ``fields`` maps document fields to value types in value order, ``links``
    maps link fields to ``TRACE.COMPONENT`` / ``TRACE.BATCH``; ``schema`` is
    the whole template file (the JSON Schema with its ``x-idnode`` block).
    """

    name: str
    version: int
    industry: str
    title: str
    fields: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]
    schema: Mapping[str, Any] = field(repr=False, compare=False)

    @cached_property
    def _validator(self) -> Draft202012Validator:
        """The compiled schema, made on the first validation (jsonschema loads then)."""
        return compile_schema(self.schema)

    @cached_property
    def _valid(self) -> Callable[[object], bool]:
        """The fast validity check (:func:`~registry.templates.validation.fast_check`)."""
        return fast_check(self.schema)

    @property
    def id(self) -> str:
        """``name@version``, the text of the ``TRACE.TEMPLATE`` value."""
        return f"{self.name}@{self.version}"

    def validate(self, document: object) -> None:
        """Raise :class:`TemplateError` listing every field that breaks the schema."""
        if self._valid(document):
            return
        found = problems(self._validator, document)
        if found:
            raise TemplateError(f"document does not match {self.id}", found)

    def to_values(
        self,
        document: Mapping[str, Any],
        *,
        start_index: int = DEFAULT_START_INDEX,
        check: bool = True,
    ) -> list[HandleValue]:
        """The Handle values of ``document`` from ``start_index`` up.

        ``check=False`` skips validation, for callers that produce documents
        known to be valid (the demo generator, a bulk load validated earlier).
        """
        if check:
            self.validate(document)
        return document_to_values(self.id, self.fields, self.links, document, start_index)

    def pairs(self, document: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        """``(type, data)`` of :meth:`to_values` without checking or making the values."""
        return document_pairs(self.id, self.fields, self.links, document)

    def mapped_pairs(self, document: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        """The ``(type, data)`` of :meth:`pairs` whose types the template maps (its field
        and link values: not the template id nor the whole document)."""
        return mapped_pairs(self.fields, self.links, document)

    @cached_property
    def mapped_types(self) -> dict[str, str]:
        """``{value type: field name}`` of the mapped fields and links."""
        return {vtype: name for name, vtype in (*self.fields, *self.links)}

    def to_json(self) -> str:
        """The template file text, to store (``data_templates.schema``) or write out."""
        return json.dumps(self.schema, ensure_ascii=False, indent=2)
