"""Handle names: the lookup key, validation, prefixes and their parents."""

from __future__ import annotations

import pytest

from registry.errors import InvalidHandle
from registry.names import name_key, parent_prefixes, prefix_handle, split_handle


def test_name_key_upper_cases_ascii_letters_only() -> None:
    assert name_key("88.118.8/tv-0001") == "88.118.8/TV-0001"
    assert name_key("88.118.8/ä-ß-é-x") == "88.118.8/ä-ß-é-X"


def test_split_handle_at_the_first_slash() -> None:
    assert split_handle("88.118.8/TV/0001") == ("88.118.8", "TV/0001")
    assert split_handle("0.NA/88.118") == ("0.NA", "88.118")


@pytest.mark.parametrize("bad", ["", "no-slash", "/suffix", "prefix/", "88/" + "x" * 1022])
def test_invalid_names_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidHandle) as caught:
        split_handle(bad)
    assert caught.value.response_code == 102


def test_limit_counts_utf8_bytes() -> None:
    assert split_handle("88/" + "x" * 1021)
    with pytest.raises(InvalidHandle):
        split_handle("88/" + "é" * 511)


def test_prefix_handle_and_parents() -> None:
    assert prefix_handle("88.118.8") == "0.NA/88.118.8"
    assert parent_prefixes("88.118.8") == ["88.118", "88"]
    assert parent_prefixes("88") == []
