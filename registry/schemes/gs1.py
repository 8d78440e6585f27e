"""GS1 keys: GTIN (+ lot / serial), SSCC, GLN, GIAI, in every spelling a scanner or person uses.

Spellings accepted: a GS1 Digital Link URI (``https://any.host/01/06901234567892/21/ABC123``
or just its path ``/01/…``), an element string in human-readable form
(``(01)06901234567892(21)ABC123``), an EPC pure-identity URI
(``urn:epc:id:sgtin:6901234.056789.ABC123``, ``urn:epc:id:sscc:…``), and a bare
GTIN-8/12/13/14 or 18-digit SSCC.  Parsing and check digits come from ``biip``
(a maintained GS1 barcode interpreter); this module only picks the primary key
and its key qualifiers out of what biip returns and spells them one way.

The spelling products carry most, ``(01)GTIN-14`` with a plain lot ``(10)`` and/or
serial ``(21)``, is read without biip (:func:`_common_element_string`: ~2 us against
~150 us; a bulk import of products parses one a record, issue 17) when its check
digit holds; anything else, and every error, goes through biip, which is imported on
first use (importing it is ~0.3 s of every ``idnode`` command's start otherwise).
``tests/registry/test_gs1_fast_path.py`` checks the two agree on many samples.

The canonical key is the GS1 Digital Link path of the identity, without data
attributes: ``01/{GTIN-14}[/22/{CPV}][/10/{lot}][/21/{serial}]``, ``00/{SSCC}``,
``414/{GLN}``, ``8004/{GIAI}`` — so ``(01)6901234567892(21)A`` and
``https://x/01/06901234567892/21/A?17=250101`` are the same key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from registry.schemes.model import Identifier, SchemeError

if TYPE_CHECKING:
    from biip.gs1_element_strings import GS1ElementString

# primary key AI -> its key qualifiers, in Digital Link order
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "01": ("22", "10", "21"),
    "00": (),
    "414": ("254",),
    "8004": (),
}
_EPC = re.compile(r"^urn:epc:id:(sgtin|sscc):(\d+)\.(\d+)(?:\.(.+))?$", re.IGNORECASE)
#: GS1 character set 82 without the parentheses (which end an HRI element)
_CSET82 = r"[!\"%&'*+,\-./0-9:;<=>?A-Z_a-z]{1,20}"
_COMMON_HRI = re.compile(rf"\(01\)([0-9]{{14}})(?:\(10\)({_CSET82}))?(?:\(21\)({_CSET82}))?")


def parse(text: str) -> Identifier | None:
    """The GS1 identity ``text`` names; None if it is no GS1 syntax; SchemeError if malformed."""
    if text.lower().startswith(("http://", "https://")) or text.startswith("/"):
        return _from_elements(text, _digital_link(text))
    if text.startswith("("):
        if (common := _common_element_string(text)) is not None:
            return common
        if any(ch.isspace() for ch in text):
            raise SchemeError(text, "a GS1 element string has no spaces")
        from biip import ParseError
        from biip.gs1_messages import GS1Message

        try:
            message = GS1Message.parse_hri(text)
        except ParseError as exc:
            raise SchemeError(text, f"not a valid GS1 element string: {exc}") from None
        return _from_elements(text, message.element_strings)
    if text.lower().startswith("urn:epc:"):
        return _from_epc(text)
    if text.isdigit() and text.isascii():
        if len(text) in (8, 12, 13, 14):
            return _identity(text, [("01", _gtin(text, text))])
        if len(text) == 18:
            return _identity(text, [("00", _sscc(text, text))])
    return None


def _common_element_string(text: str) -> Identifier | None:
    """The identity of ``(01)GTIN-14[(10)LOT][(21)SERIAL]`` whose check digit holds, read
    as biip reads it; None for any other text (biip's to read, or to refuse)."""
    found = _COMMON_HRI.fullmatch(text)
    if found is None:
        return None
    gtin, lot, serial = found.groups()
    if int(gtin[-1]) != _check_digit(gtin[:-1]):
        return None
    parts = [("01", gtin)]
    if lot is not None:
        parts.append(("10", lot))
    if serial is not None:
        parts.append(("21", serial))
    return _identity(text, parts)


def _digital_link(text: str) -> list[GS1ElementString]:
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    uri = text if not text.startswith("/") else "https://id.invalid" + text
    try:
        return list(GS1DigitalLinkURI.parse(uri).element_strings)
    except ParseError as exc:
        raise SchemeError(text, f"not a valid GS1 Digital Link URI: {exc}") from None


def _from_elements(text: str, elements: list[GS1ElementString]) -> Identifier:
    by_ai = {element.ai.ai: element.value for element in elements}
    primary = [ai for ai in PRIMARY_KEYS if ai in by_ai]
    if len(primary) != 1:
        names = ", ".join(f"({ai})" for ai in PRIMARY_KEYS)
        found = "none" if not primary else " and ".join(f"({ai})" for ai in primary)
        raise SchemeError(text, f"needs exactly one GS1 primary key of {names}; found {found}")
    ai = primary[0]
    value = by_ai[ai]
    if ai == "01":
        value = _gtin(text, value)
    elif ai == "00":
        value = _sscc(text, value)
    parts = [(ai, value)]
    parts += [(q, by_ai[q]) for q in PRIMARY_KEYS[ai] if q in by_ai]
    return _identity(text, parts)


def _from_epc(text: str) -> Identifier:
    found = _EPC.match(text)
    if found is None:
        raise SchemeError(text, "not an EPC pure-identity URI of an SGTIN or SSCC "
                                "(urn:epc:id:sgtin:COMPANY.ITEM.SERIAL, "
                                "urn:epc:id:sscc:COMPANY.SERIAL)")
    kind, company, reference, serial = found.groups()
    if kind.lower() == "sgtin":
        if serial is None or len(company) + len(reference) != 13:
            raise SchemeError(text, "an SGTIN URI has company prefix and indicator+item "
                                    "reference of 13 digits together, and a serial")
        body = reference[0] + company + reference[1:]
        gtin = _gtin(text, body + str(_check_digit(body)))
        return _identity(text, [("01", gtin), ("21", unquote(serial))])
    if serial is not None or len(company) + len(reference) != 17:
        raise SchemeError(text, "an SSCC URI has company prefix and extension+serial "
                                "reference of 17 digits together")
    body = reference[0] + company + reference[1:]
    return _identity(text, [("00", _sscc(text, body + str(_check_digit(body))))])


def _check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (weights 3, 1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _gtin(text: str, value: str) -> str:
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        return Gtin.parse(value).as_gtin_14()
    except ParseError as exc:
        raise SchemeError(text, f"GTIN {value}: {exc}") from None


def _sscc(text: str, value: str) -> str:
    from biip import ParseError
    from biip.sscc import Sscc

    try:
        return Sscc.parse(value).value
    except ParseError as exc:
        raise SchemeError(text, f"SSCC {value}: {exc}") from None


def _identity(text: str, parts: list[tuple[str, str]]) -> Identifier:
    path = "/".join(f"{ai}/{quote(value, safe='')}" for ai, value in parts)
    display = "".join(f"({ai}){value}" for ai, value in parts)
    return Identifier(scheme="gs1", key=f"gs1:{path}", display=display)
