"""make_value builds the same HandleValue as its constructor (the bulk readers' fast path)."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.values import HandleValue, ValueReference, make_value


@pytest.mark.parametrize("fields", [
    (1, "URL", b"https://e.test/", 0, 86400, 0, True, True, True, False, ()),
    (7, "HS_VLIST", b"", 1, 1735689600, 1234, False, True, False, True,
     (ValueReference("88.118.8/A", 300), ValueReference("88.118.8/B", 1))),
])
def test_make_value_is_the_constructor_s_value(fields: tuple[object, ...]) -> None:
    made = make_value(*fields)  # type: ignore[arg-type]
    built = HandleValue(*fields)  # type: ignore[arg-type]
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert dataclasses.astuple(made) == dataclasses.astuple(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.index = 2  # type: ignore[misc]
