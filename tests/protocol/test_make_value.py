"""make_value builds the same HandleValue as its constructor (the bulk readers' fast path),
with_timestamp the same as dataclasses.replace (a write's stamp)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from protocol.value_codec import decode_value, decode_values, encode_value, encode_values
from protocol.values import HandleValue, ValueReference, make_value, with_timestamp

FIELDS = [
    (1, "URL", b"https://e.test/", 0, 86400, 0, True, True, True, False, ()),
    (7, "HS_VLIST", b"", 1, 1735689600, 1234, False, True, False, True,
     (ValueReference("88.118.8/A", 300), ValueReference("88.118.8/B", 1))),
]


@pytest.mark.parametrize("fields", FIELDS)
def test_make_value_is_the_constructor_s_value(fields: tuple[object, ...]) -> None:
    made = make_value(*fields)  # type: ignore[arg-type]
    built = HandleValue(*fields)  # type: ignore[arg-type]
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert dataclasses.astuple(made) == dataclasses.astuple(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.index = 2  # type: ignore[misc]


@pytest.mark.parametrize("fields", FIELDS)
def test_with_timestamp_is_replace(fields: tuple[object, ...]) -> None:
    value = HandleValue(*fields)  # type: ignore[arg-type]
    stamped = with_timestamp(value, 1765000000)
    assert stamped == dataclasses.replace(value, timestamp=1765000000)
    assert dataclasses.astuple(stamped) == dataclasses.astuple(
        dataclasses.replace(value, timestamp=1765000000))
    assert value.timestamp == fields[5]  # the value itself unchanged


def test_a_made_value_is_a_plain_handle_value() -> None:
    made = make_value(*FIELDS[1])  # type: ignore[arg-type]
    assert type(made) is HandleValue
    assert not hasattr(made, "__dict__")
    assert copy.copy(made) == made and copy.deepcopy(made) == made
    assert dataclasses.replace(made, index=8) == HandleValue(8, *FIELDS[1][1:])  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.data  # type: ignore[misc]


@pytest.mark.parametrize("fields", FIELDS)
def test_a_decoded_value_is_the_constructor_s_value(fields: tuple[object, ...]) -> None:
    """read_value (every value a request or a stored image carries) makes its values
    with make_value: the same value as the constructor's, as frozen."""
    built = HandleValue(*fields)  # type: ignore[arg-type]
    decoded = decode_value(encode_value(built))
    assert type(decoded) is HandleValue
    assert decoded == built and hash(decoded) == hash(built) and repr(decoded) == repr(built)
    assert decode_values(encode_values([built, built])) == (built, built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.data = b""  # type: ignore[misc]
