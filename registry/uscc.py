"""The unified social credit code (统一社会信用代码, GB 32100-2015) and its check digit.

18 characters from the 31-character set ``0-9 A-H J-N P-R T U W-Y`` (no I, O,
Z, S, V): registration authority (1), organisation category (1), the
administrative division code (6 digits, GB/T 2260), the organisation code
(9, GB 11714) and the check character.  The check character is
``31 - (sum of value(char_i) * 3^i mod 31 for i = 0..16) mod 31``, the
weights being ``3^i mod 31``.  No library on PyPI validates it that is kept
up, hence these few lines (tested against published codes).
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18
_VALUE = {c: i for i, c in enumerate(CHARSET)}


def check_character(first17: str) -> str:
    """The check character of the first 17 characters of a code."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None if it is.

    The answer is one of ``length``, ``character``, ``division`` (characters
    3-8 are not digits) or ``check`` (the check character is wrong).
    """
    if len(code) != LENGTH:
        return "length"
    if any(c not in _VALUE for c in code):
        return "character"
    if not code[2:8].isdigit():
        return "division"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def normalise_credit_code(text: str) -> str:
    """The code as typed, trimmed and in capitals."""
    return text.strip().upper()
