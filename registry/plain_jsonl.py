"""The JSON Lines import's fast reader for records of the plain shape.

Most imported records hold only values of the shape ``{"index": N, "type": T,
"data": {"format": "string", "value": S}, "ttl": N}`` (``data`` also as a bare
string, ``ttl`` optional): what :func:`protocol.rest_json.value_from_json` reads
through its plain-value shortcut.  :func:`plain_record` decodes such a line with
msgspec straight into typed structs, no dict and no key string made per value,
then into :class:`HandleValue` (a third of the time of ``orjson.loads`` and the
shortcut's dict look-ups: the JSON Lines reader was a quarter of a demo import's
CPU, issue 17).  A line of any other shape, or with anything wrong in it, gives
None and the importer reads it the general way, which gives the same values and
words its errors as before: this reader only ever accepts what that one accepts,
with the same result (integers within 32 bits and never booleans or floats, the
last of repeated keys, other members of the record ignored).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from protocol.constants import TYPE_HS_SECKEY
from protocol.values import DEFAULT_TTL, TTL_TYPE_RELATIVE, HandleValue, make_value

_Int32 = Annotated[int, msgspec.Meta(ge=-(1 << 31), lt=1 << 31)]
#: a type of another length is not HS_SECKEY in any case (as in protocol.rest_json)
_SECKEY_LENGTH = len(TYPE_HS_SECKEY)


class _Text(msgspec.Struct, forbid_unknown_fields=True):
    """``{"format": ..., "value": "..."}``: the data of a value (plain if ``string``)."""

    format: str
    value: str


class _Value(msgspec.Struct, forbid_unknown_fields=True):
    """A value of the plain shape (any other member makes the line another shape)."""

    index: _Int32
    type: str
    data: _Text | str
    ttl: _Int32 = DEFAULT_TTL


class _Record(msgspec.Struct):
    """A line: the handle and its values (other members are ignored, as the importer does)."""

    handle: str
    values: list[_Value]


_decode = msgspec.json.Decoder(_Record).decode


def plain_record(line: bytes) -> tuple[str, tuple[HandleValue, ...]] | None:
    """``(handle, values)`` of a JSON Lines record whose values all have the plain shape,
    as the general reader would make them; None for any other line (read it that way)."""
    try:
        record = _decode(line)
        values = []
        for v in record.values:
            data = v.data
            if isinstance(data, _Text):
                if data.format != "string":
                    return None
                text = data.value
            else:
                text = data
            type_name = v.type
            values.append(make_value(
                v.index, type_name, text.encode("utf-8"), TTL_TYPE_RELATIVE, v.ttl, 0, True,
                True, len(type_name) != _SECKEY_LENGTH or type_name.upper() != TYPE_HS_SECKEY,
                False, ()))
    except (msgspec.DecodeError, UnicodeEncodeError):
        return None
    if not record.handle:
        return None
    return record.handle, tuple(values)
