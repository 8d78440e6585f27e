"""The common GS1 element strings read without biip give what biip's reading gives
(issue 17: ``(01)GTIN(10)LOT(21)SERIAL`` is parsed for each imported product)."""

from __future__ import annotations

import random
import string

import pytest
from biip import ParseError
from biip.gs1_messages import GS1Message

from registry.schemes import gs1
from registry.schemes.model import Identifier, SchemeError

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def biip_reading(text: str) -> Identifier | str:
    """What the element-string branch of :func:`gs1.parse` made of ``text`` with biip
    alone: the identity, or the SchemeError's message."""
    try:
        return gs1._from_elements(text, GS1Message.parse_hri(text).element_strings)
    except ParseError as exc:
        return f"not a valid GS1 element string: {exc}"
    except SchemeError as exc:
        return str(exc)


def _gtin(rng: random.Random) -> str:
    zeros = rng.choice((0, 0, 1, 1, 2, 5, 6, 13))
    body = "0" * zeros + "".join(rng.choice(string.digits) for _ in range(13 - zeros))
    check = gs1._check_digit(body[:13])
    return body[:13] + str(check if rng.random() < 0.8 else (check + 1) % 10)


def _text(rng: random.Random) -> str:
    alphabet = CSET82 if rng.random() < 0.9 else CSET82 + "é #~"
    plain = string.ascii_letters + string.digits + "-./"
    chars = plain if rng.random() < 0.6 else alphabet
    return "".join(rng.choice(chars) for _ in range(rng.choice((0, 1, 5, 12, 20, 20, 21, 24))))


def samples(count: int) -> list[str]:
    rng = random.Random(17)
    found = []
    for _ in range(count):
        parts = [f"(01){_gtin(rng)}"]
        for ai in rng.sample(("10", "21", "17", "22"), rng.choice((0, 1, 1, 2, 2, 3))):
            parts.append(f"({ai}){_text(rng) if ai != '17' else '250101'}")
        if rng.random() < 0.1:
            rng.shuffle(parts)
        found.append("".join(parts))
    return found


def test_the_fast_reading_agrees_with_biip_on_many_samples() -> None:
    fast = 0
    for text in samples(4000):
        reading = gs1._common_element_string(text)
        if reading is not None:
            fast += 1
            assert reading == biip_reading(text), text
    assert fast > 800  # the common spellings do take the fast path


@pytest.mark.parametrize("text", samples(600))
def test_parse_gives_biip_s_reading_or_its_error(text: str) -> None:
    expected = biip_reading(text)
    if any(ch.isspace() for ch in text):
        expected = "a GS1 element string has no spaces"
    try:
        got: Identifier | str | None = gs1.parse(text)
    except SchemeError as exc:
        got = str(exc)
    if isinstance(expected, str):
        assert isinstance(got, str) and got.endswith(expected), text
    else:
        assert got == expected, text
