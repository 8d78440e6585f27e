"""Output for CLI commands: human-readable tables by default, JSON with ``--json``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import orjson


def to_json(data: Any) -> str:
    """Stable, indented JSON; bytes and other non-JSON values become strings."""
    return orjson.dumps(
        data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str
    ).decode()


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain text table with a header line; an empty sequence gives "(none)"."""
    if not rows:
        return "(none)"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    header = "  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns))
    body = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(line)) for line in cells]
    return "\n".join([header.rstrip(), *(line.rstrip() for line in body)])


def fields(record: Mapping[str, Any]) -> str:
    """A record as aligned ``key: value`` lines."""
    width = max((len(key) for key in record), default=0)
    return "\n".join(f"{key.ljust(width)}  {_cell(value)}" for key, value in record.items())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value)
    return str(value)


class Printer:
    """Prints a command's result as JSON or as text, to stdout."""

    def __init__(self, json_mode: bool, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stream = stream or sys.stdout

    def result(self, data: Any, text: str | None = None) -> None:
        """Print ``data`` as JSON in JSON mode, else ``text`` (or a rendering of data)."""
        if self.json_mode:
            print(to_json(data), file=self.stream)
        elif text is not None:
            print(text, file=self.stream)
        elif isinstance(data, Mapping):
            print(fields(data), file=self.stream)
        elif isinstance(data, Sequence) and not isinstance(data, str):
            print(table(list(data)), file=self.stream)
        else:
            print(data, file=self.stream)
