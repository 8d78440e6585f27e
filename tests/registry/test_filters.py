"""Type and index filtering with the semantics of CNRI ``Util.filterValues``."""

from __future__ import annotations

from protocol.values import HandleValue
from registry.filters import select_values

VALUES = (
    HandleValue(1, "URL", b"u"),
    HandleValue(2, "HS_SITE", b"s"),
    HandleValue(3, "HS_SITE.PREFIX", b"p"),
    HandleValue(4, "EMAIL", b"e"),
    HandleValue(100, "HS_ADMIN", b"a"),
)


def indexes(values: tuple[HandleValue, ...]) -> list[int]:
    return [v.index for v in values]


def test_no_filter_returns_everything() -> None:
    assert select_values(VALUES) == VALUES


def test_type_without_dot_matches_exactly_and_ignores_case() -> None:
    assert indexes(select_values(VALUES, types=["hs_site"])) == [2]


def test_type_with_trailing_dot_matches_itself_and_sub_types() -> None:
    assert indexes(select_values(VALUES, types=["HS_SITE."])) == [2, 3]


def test_index_filter_is_exact() -> None:
    assert indexes(select_values(VALUES, indexes=[4, 100, 7])) == [4, 100]


def test_value_passes_on_type_or_index() -> None:
    assert indexes(select_values(VALUES, types=["URL"], indexes=[100])) == [1, 100]


def test_nothing_matches() -> None:
    assert select_values(VALUES, types=["NOPE"]) == ()
