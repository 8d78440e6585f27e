"""Fuzz contract of the REST JSON parsing: ``values_from_json`` and the PUT body parser.

A contract in the sense of :mod:`tests.fuzz`.
"""

from __future__ import annotations

import contextlib

import orjson

from protocol.errors import ProtocolError
from protocol.rest_json import value_to_json, values_from_json
from protocol.value_codec import encode_values
from protocol.values import HandleValue
from resolver.http.api import RestApi, _BadRequest

FUZZ_HANDLE = "88.118.8/FUZZ"



def check_rest_json(data: bytes) -> None:
    """``values_from_json`` and the REST API's PUT body parser raise only their own
    errors; what they accept can be stored (wire-encoded) and written back as JSON."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if doc is not None:
        with contextlib.suppress(ProtocolError):
            _accepted(values_from_json(doc))
    with contextlib.suppress(_BadRequest):
        _accepted(RestApi._values_from_body(FUZZ_HANDLE, data))


def _accepted(values: tuple[HandleValue, ...] | list[HandleValue]) -> None:
    try:
        encode_values(values)
    except ProtocolError:
        return  # refused at storing time, with the codec's own error
    for value in values:
        value_to_json(value)
