"""Which handle another scheme's identifier (GS1, OID) names, for every front end.

One parse (:func:`registry.schemes.parse_identifier`, SchemeError naming the
input when malformed) and one primary-key lookup in the registry's
``identifier_keys`` index.  Not cached: the lookup is a single indexed read,
and the front ends' abuse limits (rate per client) bound anonymous use.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.schemes import Identifier, parse_identifier
from registry.store import HandleStore


@dataclass(frozen=True, slots=True)
class IdentifierMatch:
    """An identifier in canonical form and the handle bound to it (None: no handle)."""

    identifier: Identifier
    handle: str | None

    def not_found_message(self) -> str:
        """What to tell a client when no handle carries the identifier."""
        scheme, key = self.identifier.key.split(":", 1)
        return f"no handle here carries {scheme.upper()} {key} ({self.identifier.display})"


async def find_handle(store: HandleStore, text: str) -> IdentifierMatch:
    """The handle that carries the identifier ``text`` (SchemeError if ``text`` is malformed)."""
    identifier = parse_identifier(text)
    return IdentifierMatch(identifier, await store.handle_by_identifier(identifier.key))
