"""Object identifiers (ITU-T X.660 / ISO/IEC 9834-1), e.g. China's ``1.2.156.…`` arc.

Accepted spellings: ``urn:oid:1.2.156.3001``, ``oid:1.2.156.3001`` and a bare
dotted number that starts with a root arc (0, 1 or 2) and has at least three
arcs (a bare ``1.2`` is more likely something else).  Rules checked: arcs are
decimal without leading zeros; the root arc is 0, 1 or 2; under roots 0 and 1
the second arc is below 40 (X.690's encoding rule).  Hand-written: the rules
are these few lines and no maintained PyPI package offers more.
"""

from __future__ import annotations

import re

from registry.schemes.model import Identifier, SchemeError

_PREFIXES = ("urn:oid:", "oid:")
_BARE = re.compile(r"^[0-2](\.\d+){2,}$")
MAX_ARCS = 64


def parse(text: str) -> Identifier | None:
    """The OID ``text`` names; None if it is not OID syntax; SchemeError if malformed."""
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            return _checked(text, text[len(prefix):])
    if _BARE.match(text):
        return _checked(text, text)
    return None


def _checked(text: str, dotted: str) -> Identifier:
    arcs = dotted.split(".")
    if len(arcs) < 2:
        raise SchemeError(text, "an OID has at least two arcs (e.g. 1.2.156)")
    if len(arcs) > MAX_ARCS:
        raise SchemeError(text, f"an OID of more than {MAX_ARCS} arcs")
    for arc in arcs:
        if not arc.isdigit() or not arc.isascii():
            raise SchemeError(text, f"OID arc {arc!r} is not a decimal number")
        if len(arc) > 1 and arc.startswith("0"):
            raise SchemeError(text, f"OID arc {arc!r} has a leading zero")
    if arcs[0] not in ("0", "1", "2"):
        raise SchemeError(text, f"OID root arc {arcs[0]} is not 0, 1 or 2")
    if arcs[0] in ("0", "1") and int(arcs[1]) >= 40:
        raise SchemeError(text, f"under root arc {arcs[0]} the second arc must be below 40")
    canonical = ".".join(arcs)
    return Identifier(scheme="oid", key=f"oid:{canonical}", display=canonical)
