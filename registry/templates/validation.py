"""JSON Schema (draft 2020-12) validation with one readable line per failure.

Each failure becomes ``POINTER: message (rule)``: the JSON pointer of the
field at fault and the schema keyword that failed.  A missing required field
and an unexpected extra field are reported at the field's own pointer (not at
the enclosing object), so the operator sees which field to fix.

Every imported or written record with a template is validated, so
:func:`fast_check` first asks jsonschema-rs (a compiled validator, ~1 us a
document against ~0.5 ms for jsonschema's ``iter_errors``: it was a third of
an import's time, issue 17) whether the document is valid; only a document it
refuses goes through jsonschema, which words the failures and stays the judge:
a document jsonschema finds nothing wrong with is accepted (jsonschema-rs
checks some formats, such as ``email``, more strictly).  Both check ``format``
with the same ``date-time`` rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema itself is imported on first use: most commands never validate
    from jsonschema import Draft202012Validator, FormatChecker, ValidationError

MAX_PROBLEM_LENGTH = 300

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(instance: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an optional extra package)."""
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.match(instance):
        return False
    datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    return True


@cache
def _format_checker() -> FormatChecker:
    """The format checker validators use: a private copy (adding date-time here changes
    no one else's), made on first use."""
    from jsonschema import FormatChecker

    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


def _date_time_ok(instance: str) -> bool:
    try:
        return _is_date_time(instance)
    except ValueError:
        return False


def fast_check(schema: Mapping[str, Any]) -> Callable[[object], bool]:
    """Whether a document is valid against ``schema`` (draft 2020-12, formats checked):
    jsonschema-rs's compiled validator; True means valid, False means ask
    :func:`problems`."""
    import jsonschema_rs

    validator = jsonschema_rs.Draft202012Validator(
        dict(schema), validate_formats=True, formats={"date-time": _date_time_ok})
    return validator.is_valid


def compile_schema(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` that also checks ``format`` (date, date-time, email...)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=_format_checker())


def pointer(path: Iterable[str | int]) -> str:
    """The RFC 6901 JSON pointer of ``path`` (``""`` is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _line(path: Iterable[str | int], message: str, rule: str) -> str:
    text = f"{pointer(path) or '/'}: {message} ({rule})"
    return text if len(text) <= MAX_PROBLEM_LENGTH else text[: MAX_PROBLEM_LENGTH - 3] + "..."


def _extra_properties(error: ValidationError) -> list[str]:
    """The properties an ``additionalProperties: false`` error is about."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    named = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return [k for k in instance if k not in named and not any(p.search(k) for p in patterns)]


def _lines_of(error: ValidationError) -> Iterator[str]:
    path = list(error.absolute_path)
    rule = str(error.validator)
    if rule == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        for name in required:
            if name not in error.instance:
                yield _line([*path, name], "required field is missing", rule)
    elif rule == "additionalProperties" and error.validator_value is False:
        for name in _extra_properties(error):
            yield _line([*path, name], "field is not allowed here", rule)
    else:
        yield _line(path, error.message, rule)


def problems(validator: Draft202012Validator, instance: object) -> list[str]:
    """Every failure of ``instance`` against ``validator``'s schema, sorted, one line each."""
    found: set[str] = set()
    for error in validator.iter_errors(instance):
        found.update(_lines_of(error))
    return sorted(found)
