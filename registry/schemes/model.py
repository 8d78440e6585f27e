"""What a parsed identifier of another scheme is, and the error for a malformed one."""

from __future__ import annotations

from dataclasses import dataclass


class SchemeError(ValueError):
    """``text`` looks like (or claims to be) an identifier of a scheme but is not valid."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r}: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier of another scheme in canonical form.

    ``key`` is what the node indexes (``gs1:01/06901234567892/21/ABC123``,
    ``gs1:00/106141412345678908``, ``oid:1.2.156.1``): one spelling per thing,
    whatever form it was given in.  ``display`` is the form people read
    (``(01)06901234567892(21)ABC123``).
    """

    scheme: str
    key: str
    display: str
