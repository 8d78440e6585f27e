"""Ecode, China's IoT entity code (GB/T 31866, 物联网标识体系 物品编码 Ecode), in its text form.

An Ecode is version ``V`` + numbering-scheme identifier ``NSI`` (编码体系标识,
allocated by the Article Numbering Center of China) + master data code ``MD``
(主码).  The text forms this module reads, per version:

======  ====  =========  ==========  ====================================
V       NSI   MD         whole code  characters
======  ====  =========  ==========  ====================================
1       4     1-20       <= 25       decimal digits
2       4     1-28       <= 33       decimal digits
3       5     1-39       <= 45       digits and upper-case letters A-Z
4       5     1-128 [*]  variable    any Unicode (NFC), no control chars
======  ====  =========  ==========  ====================================

[*] GB/T 31866 leaves V4's length open; 128 characters is this node's bound
(every size a client controls is bounded).  Versions 5-9 are reserved and
refused.  Ecode-V0 is reserved for GS1 compatibility: a V0 code *is* the GS1
code, so ``ecode:0`` + a GS1 code is read as that GS1 code (one thing, one key).

Because a bare run of 19-45 digits is easily something else (an SSCC, an
order number), an Ecode is recognised only with its scheme named:
``ecode:1000100000000000000001234``, ``urn:ecode:…`` or ``Ecode 1000…`` (any
case; spaces and hyphens between digit groups, as printed under a label, are
dropped for V1-V3, and around the NSI of V4, whose MD is free text).
The canonical key is ``ecode:`` + V + NSI + MD.

Hand-written: the structure is the table above; no maintained PyPI package
parses Ecode.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from registry.schemes import gs1
from registry.schemes.model import Identifier, SchemeError

_PREFIX = re.compile(r"^(?:urn:ecode:|ecode:|ecode\s+)", re.IGNORECASE)
_GROUPING = re.compile(r"[\s-]+")
_V4_HEAD = re.compile(r"^[\s-]*([0-9]{5})[\s-]?(.*)$", re.DOTALL)
MAX_V4_MD = 128


@dataclass(frozen=True, slots=True)
class Version:
    """The structure of one Ecode version's text form."""

    nsi_digits: int
    max_md: int
    md_pattern: re.Pattern[str]
    md_kind: str


_DIGITS = re.compile(r"^[0-9]+$")
_ALNUM = re.compile(r"^[0-9A-Z]+$")
VERSIONS: dict[str, Version] = {
    "1": Version(4, 20, _DIGITS, "decimal digits"),
    "2": Version(4, 28, _DIGITS, "decimal digits"),
    "3": Version(5, 39, _ALNUM, "digits and upper-case letters A-Z"),
    "4": Version(5, MAX_V4_MD, re.compile(r"^[^\x00-\x1f\x7f]+$"), "printable characters"),
}


def parse(text: str) -> Identifier | None:
    """The Ecode ``text`` names; None if it does not say ``ecode``; SchemeError if malformed."""
    found = _PREFIX.match(text)
    if found is None:
        return None
    code = text[found.end():].strip()
    if not code:
        raise SchemeError(text, "an Ecode is empty after its scheme name")
    version = code[0]
    if version == "0":
        return _v0(text, code[1:])
    shape = VERSIONS.get(version)
    if shape is None:
        raise SchemeError(text, f"Ecode version {version!r} is not 1-4 "
                                "(0 is GS1-compatible, 5-9 are reserved)")
    if version == "4":  # the MD is free text: drop only the separators around the NSI
        head = _V4_HEAD.match(code[1:])
        rest = (head.group(1) + unicodedata.normalize("NFC", head.group(2)) if head
                else code[1:])
    else:
        rest = _GROUPING.sub("", code[1:])
    nsi, md = rest[:shape.nsi_digits], rest[shape.nsi_digits:]
    if len(nsi) < shape.nsi_digits or not nsi.isascii() or not nsi.isdigit():
        raise SchemeError(text, f"Ecode-V{version} needs a {shape.nsi_digits}-digit "
                                f"numbering-scheme identifier (NSI) after the version")
    if not md:
        raise SchemeError(text, f"Ecode-V{version} has no master data code after NSI {nsi}")
    if len(md) > shape.max_md:
        raise SchemeError(text, f"Ecode-V{version} master data code is {len(md)} characters, "
                                f"at most {shape.max_md}")
    if not shape.md_pattern.match(md) or (version != "4" and not md.isascii()):
        raise SchemeError(text, f"Ecode-V{version} master data code {md!r} must be "
                                f"{shape.md_kind}")
    canonical = version + nsi + md
    return Identifier(scheme="ecode", key=f"ecode:{canonical}", display=canonical)


def _v0(text: str, rest: str) -> Identifier:
    """Ecode-V0 carries a GS1 code: the identifier is that GS1 code."""
    try:
        found = gs1.parse(rest.strip())
    except SchemeError as exc:
        raise SchemeError(text, f"Ecode-V0 carries a GS1 code, and {exc.reason}") from None
    if found is None:
        raise SchemeError(text, "Ecode-V0 carries a GS1 code (a GTIN, SSCC or element "
                                "string), and this is none")
    return found
