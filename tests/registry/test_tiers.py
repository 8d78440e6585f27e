"""The tier marker (registry/tiers.py): setting, keeping and reading who may read a value."""

from __future__ import annotations

import pytest

from protocol.values import HandleValue
from registry.errors import InvalidArgument
from registry.tiers import (
    OWNER,
    PARTNERS,
    PUBLIC,
    TYPE_PARTNERS,
    keep_tiers,
    partner_indexes,
    tiers_of,
    with_tiers,
)


def _v(index: int, type_: str = "DESC", data: bytes = b"x") -> HandleValue:
    return HandleValue(index, type_, data)


def test_tiers_set_the_permission_bits_and_the_marker() -> None:
    values = with_tiers([_v(1), _v(2), _v(3)], {2: PARTNERS, 3: OWNER})
    marker = [v for v in values if v.type == TYPE_PARTNERS]
    assert len(marker) == 1 and marker[0].index == 4 and marker[0].data == b"2"
    assert not marker[0].public_read     # the marker is owner-only itself
    assert tiers_of(values) == {1: PUBLIC, 2: PARTNERS, 3: OWNER}
    assert [v.public_read for v in values[:3]] == [True, False, False]
    back = with_tiers(values, {2: PUBLIC})
    assert tiers_of(back) == {1: PUBLIC, 2: PUBLIC, 3: OWNER}
    assert not any(v.type == TYPE_PARTNERS for v in back)   # nothing listed: no marker


def test_refused_tiers_name_the_input() -> None:
    with pytest.raises(InvalidArgument, match="no value at index 9"):
        with_tiers([_v(1)], {9: OWNER})
    with pytest.raises(InvalidArgument, match="'secret' is not one of"):
        with_tiers([_v(1)], {1: "secret"})
    marked = with_tiers([_v(1)], {1: PARTNERS})
    with pytest.raises(InvalidArgument, match="marker itself"):
        with_tiers(marked, {2: PUBLIC})


def test_document_is_as_strict_as_its_fields() -> None:
    values = [_v(200, "TRACE.TEMPLATE"), _v(201, "TRACE.DATA"), _v(202, "TRACE.MODEL"),
              _v(1000, "TRACE.EVENT")]
    assert tiers_of(with_tiers(values, {202: PARTNERS}))[201] == PARTNERS
    assert tiers_of(with_tiers(values, {202: OWNER}))[201] == OWNER
    assert tiers_of(with_tiers(values, {1000: OWNER}))[201] == PUBLIC   # events are not in it


def test_rewritten_values_keep_their_tier_and_junk_markers_are_ignored() -> None:
    old = with_tiers([_v(1), _v(2), _v(3)], {2: PARTNERS, 3: OWNER})
    new = keep_tiers(old, [_v(1, data=b"a"), _v(2, data=b"b"), _v(3, "URL", b"c")])
    assert tiers_of(new) == {1: PUBLIC, 2: PARTNERS, 3: PUBLIC}   # 3 changed type
    assert partner_indexes([_v(9, TYPE_PARTNERS, b"2, x,,-1,7")]) == {2, 7}
