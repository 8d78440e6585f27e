"""The fast reader of plain JSON Lines records: the general reader's values, or None."""

from __future__ import annotations

import orjson
import pytest

from protocol.errors import ProtocolError
from protocol.rest_json import value_from_json, value_to_json
from protocol.values import HandleValue
from registry.demo import generate
from registry.importer import read_jsonl
from registry.plain_jsonl import plain_record


def _general(line: bytes) -> tuple[str, tuple[HandleValue, ...]] | str:
    """What the general reader makes of ``line`` (the record, or that it refuses it)."""
    try:
        obj = orjson.loads(line)
        values = tuple(value_from_json(v) for v in obj["values"])
    except (orjson.JSONDecodeError, ProtocolError, ValueError, TypeError, KeyError):
        return "refused"
    return obj["handle"], values


def test_demo_records_read_as_the_general_reader_reads_them() -> None:
    for handle, values in generate(40, seed=3):
        line = orjson.dumps({"handle": handle, "values": [value_to_json(v) for v in values]})
        found = plain_record(line)
        assert found is not None
        assert found == _general(line) == (handle, tuple(values))


def _line(*values: object, handle: object = "88.118.8/X", **more: object) -> bytes:
    return orjson.dumps({"handle": handle, "values": list(values), **more})


URL = {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://a.example/"}}


@pytest.mark.parametrize("line", [
    _line(URL),
    _line({"index": 2, "type": "EMAIL", "data": "x@example.com", "ttl": 60}),
    _line({"index": 3, "type": "HS_SECKEY", "data": "secret"}),   # not public
    _line({"index": 3, "type": "hs_SecKey", "data": "secret"}),
    _line({"index": 4, "type": "\u017fT", "data": "long s"}),
    _line({"index": -(1 << 31), "type": "T", "data": "", "ttl": (1 << 31) - 1}),
    _line(URL, extra=5),                                            # other members ignored
    b'{"handle":"88.118.8/X","values":[{"index":1,"index":2,"type":"URL","data":"x"}]}',
    b'{"handle":"88.118.8/X","values":[{"index":1,"type":"URL",'
    b'"data":{"format":"string","value":"a","value":"b"}}]}',
    b'{"handle": "88.118.8/X", "values": [ ]}\n',
])
def test_plain_lines_read_the_same(line: bytes) -> None:
    found = plain_record(line)
    assert found is not None
    assert found == _general(line)


@pytest.mark.parametrize("line", [
    _line({**URL, "index": True}),
    _line({**URL, "index": 1.0}),
    _line({**URL, "index": 1 << 31}),
    _line({**URL, "ttl": None}),
    _line({**URL, "ttl": "2030-01-01T00:00:00Z"}),
    _line({**URL, "permissions": "1110"}),
    _line({**URL, "timestamp": "2024-01-01T00:00:00Z"}),
    _line({**URL, "data": {"format": "hex", "value": "00"}}),
    _line({**URL, "data": {"format": "string"}}),
    _line({**URL, "data": {"format": "string", "value": "x", "more": 1}}),
    _line({"index": 1, "type": "URL"}),
    _line(URL, handle=""),
    _line(URL, handle=7),
    b'{"handle":"88.118.8/X","values":{}}',
    b'{"handle":"88.118.8/X","values":[{"index":1,"type":"URL","data":"\\ud800"}]}',
    b'[1, 2]',
    b'{"handle":"88.118.8/X","values":[]} trailing',
])
def test_other_lines_are_left_to_the_general_reader(line: bytes) -> None:
    assert plain_record(line) is None


def test_the_importer_reads_both_kinds_of_line_in_order() -> None:
    lines = [_line(URL), _line({**URL, "permissions": "1111"}, handle="88.118.8/Y"),
             _line({**URL, "index": True}, handle="88.118.8/Z")]
    items = list(read_jsonl(iter([line + b"\n" for line in lines])))  # type: ignore[arg-type]
    assert [(i.row, i.handle, i.error is None) for i in items] == [
        (1, "88.118.8/X", True), (2, "88.118.8/Y", True), (3, "88.118.8/Z", False)]
    assert items[1].values[0].public_write
    assert items[2].error is not None and items[2].error.startswith("bad value:")
