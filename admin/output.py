"""Output for CLI commands: human-readable tables by default, JSON with ``--json``.

Columns are padded by display width, not by characters: a Chinese
enterprise name takes two terminal columns per character, so ``len`` would
misalign every row after it.  :func:`wcwidth.wcswidth` knows the East Asian
widths (and zero-width combining marks).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import orjson
from wcwidth import wcswidth


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
        max(display_width(column), *(display_width(line[i]) for line in cells))
        for i, column in enumerate(columns)
    ]
    header = "  ".join(pad(column.upper(), widths[i]) for i, column in enumerate(columns))
    body = ["  ".join(pad(value, widths[i]) for i, value in enumerate(line)) for line in cells]
    return "\n".join([header.rstrip(), *(line.rstrip() for line in body)])


def fields(record: Mapping[str, Any]) -> str:
    """A record as aligned ``key: value`` lines."""
    width = max((display_width(key) for key in record), default=0)
    return "\n".join(f"{pad(key, width)}  {_cell(value)}" for key, value in record.items())


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (2 per East Asian wide character)."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)  # control characters: count them as one


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` display columns."""
    return text + " " * max(0, width - display_width(text))


def _cell(value: Any) -> str:
    """One table cell in plain words: a nested object as ``key=value`` pairs, not a
    Python ``repr`` (``cert requests``' certificate column, for one)."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, Mapping):
        return " ".join(f"{key}={_cell(item)}" for key, item in value.items())
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
