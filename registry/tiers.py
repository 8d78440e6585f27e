"""Who may read a value: the three sharing tiers public, partners and owner.

The Handle protocol gives each value a permissions byte; a value without
``PUBLIC_READ`` (but with ``ADMIN_READ``) is returned only to an administrator
of the record.  The tiers build on that rather than beside it:

``public``
    ``PUBLIC_READ`` set: anyone.
``owner``
    no ``PUBLIC_READ``: the record's administrators (HS_ADMIN with read-value,
    the node's server admins) and the owning enterprise's console users.
``partners``
    no ``PUBLIC_READ`` *and* its index listed in the record's
    :data:`TYPE_PARTNERS` marker value: also every enterprise the owning
    enterprise granted partner access (:mod:`registry.partners`).

A templated record repeats every mapped field and link in its ``TRACE.DATA``
document, so :func:`with_tiers` gives ``TRACE.DATA`` the strictest tier of
those values: restricting ``TRACE.MODEL`` restricts the document too (people
without access then see the record without its template facts).

The marker is itself a value of the record (owner tier, data: the listed
indexes as ASCII ``"3,5"``), so it travels with the record through the caches,
backups, exports and mirrors, and the service decides a reader's view from the
cached record alone.  A server that does not know the marker (a CNRI server
mirroring the record) shows partners-only values to administrators only: the
tier degrades to ``owner``, never to ``public``.  A client replacing the whole
record without the marker does the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Final

from protocol.values import HandleValue
from registry.errors import InvalidArgument

TYPE_PARTNERS: Final = "ACCESS.PARTNERS"
TYPE_DOCUMENT: Final = "TRACE.DATA"
#: TRACE.* values that are not repeated in the document
_NOT_IN_DOCUMENT: Final = frozenset({"TRACE.TEMPLATE", "TRACE.EVENT", TYPE_DOCUMENT})
PUBLIC: Final = "public"
PARTNERS: Final = "partners"
OWNER: Final = "owner"
TIERS: Final = (PUBLIC, PARTNERS, OWNER)
#: the most indexes one marker lists (a record holds at most a few thousand values)
MAX_LISTED = 10_000


def partner_indexes(values: Iterable[HandleValue]) -> frozenset[int]:
    """The indexes the record's marker lists (empty without a marker; junk is ignored)."""
    found: set[int] = set()
    for v in values:
        if v.type != TYPE_PARTNERS:
            continue
        for part in v.data.split(b",")[:MAX_LISTED]:
            text = part.strip()
            if text.isdigit():
                found.add(int(text))
    return frozenset(found)


def tier_of(value: HandleValue, listed: frozenset[int]) -> str:
    """The tier of ``value`` in a record whose marker lists ``listed``."""
    if value.public_read:
        return PUBLIC
    return PARTNERS if value.index in listed and value.admin_read else OWNER


def check_tier(tier: str) -> str:
    """``tier`` if it is one of :data:`TIERS`, else :class:`InvalidArgument` naming it."""
    if tier not in TIERS:
        raise InvalidArgument(f"tier {tier!r} is not one of {', '.join(TIERS)}")
    return tier


def _marker(index: int, listed: Iterable[int]) -> HandleValue:
    data = ",".join(str(i) for i in sorted(set(listed))).encode("ascii")
    return HandleValue(index, TYPE_PARTNERS, data, public_read=False)


def with_tiers(values: Sequence[HandleValue], tiers: dict[int, str]) -> list[HandleValue]:
    """``values`` with the values at the indexes of ``tiers`` given those tiers.

    The permission bits change (``public_read``; ``admin_read`` is set for the
    non-public tiers) and the marker is written, moved to a free index when it
    has none, or dropped when it lists nothing.  The marker cannot be given a
    tier; an index that is not in ``values`` is refused.
    """
    by_index = {v.index: v for v in values}
    listed = set(partner_indexes(values))
    for index, tier in tiers.items():
        check_tier(tier)
        value = by_index.get(index)
        if value is None:
            raise InvalidArgument(f"no value at index {index}")
        if value.type == TYPE_PARTNERS:
            raise InvalidArgument(f"index {index} is the {TYPE_PARTNERS} marker itself")
        public = tier == PUBLIC
        by_index[index] = dataclasses.replace(
            value, public_read=public, admin_read=value.admin_read or not public)
        listed.discard(index)
        if tier == PARTNERS:
            listed.add(index)
    _restrict_document(by_index, listed)
    marker_at = next((v.index for v in values if v.type == TYPE_PARTNERS), None)
    for v in values:
        if v.type == TYPE_PARTNERS:
            del by_index[v.index]
    listed &= set(by_index)
    if listed:
        index = marker_at if marker_at is not None else max(by_index) + 1
        by_index[index] = _marker(index, listed)
    return [by_index[i] for i in sorted(by_index)]


def _restrict_document(by_index: dict[int, HandleValue], listed: set[int]) -> None:
    """Give ``TRACE.DATA`` the strictest tier of the values it repeats (in place)."""
    frozen = frozenset(listed)
    strictest = max((TIERS.index(tier_of(v, frozen)) for v in by_index.values()
                     if v.type.startswith("TRACE.") and v.type not in _NOT_IN_DOCUMENT),
                    default=0)
    for index, value in list(by_index.items()):
        if value.type != TYPE_DOCUMENT or TIERS.index(tier_of(value, frozen)) >= strictest:
            continue
        by_index[index] = dataclasses.replace(value, public_read=False, admin_read=True)
        listed.discard(index)
        if TIERS[strictest] == PARTNERS:
            listed.add(index)


def keep_tiers(old: Sequence[HandleValue], new: Sequence[HandleValue]) -> list[HandleValue]:
    """``new`` with the tiers ``old`` gave the values at the same index and of the same
    type (a record rewritten from a form keeps who may read what)."""
    before = tiers_of(old)
    types = {v.index: v.type for v in old}
    carried = {v.index: before[v.index] for v in new
               if v.type != TYPE_PARTNERS and before.get(v.index, PUBLIC) != PUBLIC
               and types.get(v.index) == v.type}
    fresh = [v for v in new if v.type != TYPE_PARTNERS]
    return with_tiers(fresh, carried) if carried else list(new)


def tiers_of(values: Sequence[HandleValue]) -> dict[int, str]:
    """Each value's tier by index (the marker itself left out)."""
    listed = partner_indexes(values)
    return {v.index: tier_of(v, listed) for v in values if v.type != TYPE_PARTNERS}
