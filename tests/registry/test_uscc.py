"""Unified social credit codes (GB 32100-2015): published codes pass, every kind of typo fails."""

from __future__ import annotations

import pytest

from registry.uscc import check_character, credit_code_problem, normalise_credit_code

PUBLISHED = ("91350100M000100Y43", "91110000600037341L", "91370200163562681G",
             "91440300708461136T")


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code: str) -> None:
    assert credit_code_problem(code) is None
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", PUBLISHED)
def test_any_changed_character_is_caught(code: str) -> None:
    for position in range(18):
        for replacement in "0A":
            changed = code[:position] + replacement + code[position + 1:]
            if changed != code:
                assert credit_code_problem(changed) is not None, changed


@pytest.mark.parametrize(("code", "problem"), [
    ("91350100M000100Y4", "length"),
    ("91350100M000100Y433", "length"),
    ("91350100M00010OY43", "character"),
    ("913501I0M000100Y43", "character"),
    ("9135A100M000100Y43", "division"),
    ("91350100M000100Y44", "check"),
])
def test_problems_are_named(code: str, problem: str) -> None:
    assert credit_code_problem(code) == problem


def test_typed_codes_are_trimmed_and_capitalised() -> None:
    assert normalise_credit_code(" 91350100m000100y43 ") == PUBLISHED[0]
