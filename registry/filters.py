"""Selecting handle values by type and index, as a Handle server does.

CNRI semantics (``Util.filterValues`` / ``Util.isParentTypeInArray``): with no
types and no indexes every value is returned; otherwise a value is kept when
its index is one of the indexes OR its type matches one of the types.  Types
compare case-insensitively (ASCII); a requested type ending in ``.`` (e.g.
``HS_SITE.``) also matches its sub-types (``HS_SITE.PREFIX``) and the bare
type (``HS_SITE``); a requested type without the dot matches only itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocol.values import HandleValue
from registry.names import name_key


def type_matcher(types: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Pre-compiled form of a type list: exact keys and sub-type prefixes."""
    exact: set[str] = set()
    parents: list[str] = []
    for requested in types:
        key = name_key(requested)
        if key.endswith("."):
            parents.append(key)
            exact.add(key[:-1])
        else:
            exact.add(key)
    return frozenset(exact), tuple(parents)


def select_values(
    values: Sequence[HandleValue], types: Iterable[str] = (), indexes: Iterable[int] = ()
) -> tuple[HandleValue, ...]:
    """The values a request for ``types`` / ``indexes`` returns, order kept."""
    exact, parents = type_matcher(types)
    wanted = frozenset(indexes)
    if not exact and not wanted:
        return tuple(values)
    kept = []
    for value in values:
        if value.index in wanted:
            kept.append(value)
            continue
        key = name_key(value.type)
        if key in exact or (parents and key.startswith(parents)):
            kept.append(value)
    return tuple(kept)
