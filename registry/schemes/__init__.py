"""Other identifier schemes that name the same thing as a handle: GS1, OID, Ecode (and their table).

A product may already carry a GS1 code (a GTIN with a serial, an SSCC, a GS1
Digital Link URI or an element string such as ``(01)…(21)…``), an OID or an
Ecode (GB/T 31866).  The
node keeps one handle per thing and an index from each other scheme's
*canonical key* to that handle; this package turns what a person or a scanner
hands over into that key, or refuses it with an error naming the input.

One module per scheme (as dnspython has one per record type), each with a
``parse(text) -> Identifier | None``: None means "not this scheme's syntax", a
:class:`SchemeError` means "this scheme's syntax, but wrong" (bad check digit,
unknown application identifier...).  :func:`parse_identifier` asks each in the
order of :data:`SCHEMES`.
"""

from __future__ import annotations

from collections.abc import Callable

from registry.schemes import ecode, gs1, oid
from registry.schemes.model import Identifier, SchemeError

__all__ = ["SCHEMES", "Identifier", "SchemeError", "names_another_scheme", "parse_identifier"]

SCHEMES: tuple[tuple[str, Callable[[str], Identifier | None]], ...] = (
    ("gs1", gs1.parse),
    ("oid", oid.parse),
    ("ecode", ecode.parse),
)

MAX_IDENTIFIER_LENGTH = 512


def parse_identifier(text: str) -> Identifier:
    """The identifier ``text`` is, in its canonical form; SchemeError if none or malformed."""
    text = text.strip()
    if not text:
        raise SchemeError(text, "an identifier is empty")
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise SchemeError(text[:40] + "…", f"longer than {MAX_IDENTIFIER_LENGTH} characters")
    for _name, parse in SCHEMES:
        found = parse(text)
        if found is not None:
            return found
    raise SchemeError(text, "not a GS1 code (GTIN, SSCC, Digital Link, element string, "
                            "EPC URI), an OID nor an Ecode (ecode:…)")


_SCHEME_STARTS = ("urn:", "oid:", "ecode:", "ecode ", "http://", "https://", "(")


def names_another_scheme(text: str) -> bool:
    """Whether ``text`` is meant as another scheme's identifier rather than a handle.

    A handle is ``PREFIX/SUFFIX``; text without a slash (a bare GTIN, an OID) or
    starting with a URI scheme or a GS1 ``(AI)`` is taken as another scheme's.
    """
    text = text.strip()
    return "/" not in text or text.lower().startswith(_SCHEME_STARTS)
