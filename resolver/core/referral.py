"""Where to send a client asking for a handle this node does not hold.

The same rule serves both roles.  For a handle ``P/S`` (or a prefix handle
``0.NA/P``, whose prefix is ``P``'s parent) the candidate prefixes are ``P``
and its ancestors, nearest first (``88.118.9``, ``88.118``, ``88``):

* a prefix this node registered as ``hosted`` (or ``root-managed``) is homed
  here: the handle does not exist, authoritatively;
* a prefix registered as ``delegated`` answers with a service referral to the
  HS_SITE/HS_SERV values of its prefix handle (the enterprise's servers);
* an unregistered prefix whose prefix handle is stored here with HS_SITE or
  HS_SERV values answers with a referral to them.  This is how ``--role root``
  serves like the GHR/MPA: it holds ``0.NA/88.118`` pointing at the secondary
  node, so ``88.118.8/TV-0001`` and ``0.NA/88.118.9`` are referred there.

A handle under no prefix known here gets a non-authoritative ``ABSENT``: a
recursive request then asks the root.  Only publicly readable referral values
are handed out (as CNRI's ``publicValuesOnly``).

A placement depends only on the handle's prefix, so :class:`ReferralFinder`
remembers it per prefix for ``ttl`` seconds (the resolution stack passes its
``negative_ttl``, how long a "not found" answer is kept anyway) and forgets
them all when a prefix handle changes (:meth:`ReferralFinder.forget`): a miss
then costs the one query that found no record, not two to four more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from protocol.constants import NA_HANDLE_PREFIX, TYPE_HS_SERV, TYPE_HS_SITE, TYPE_HS_SITE_6
from protocol.values import HandleValue
from registry.names import name_key, parent_prefixes, prefix_handle
from registry.store import HandleStore

REFERRAL_TYPES = (TYPE_HS_SITE, TYPE_HS_SITE_6, TYPE_HS_SERV)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a handle missing from the store belongs.

    ``referral`` holds the values to refer the client to (empty when the handle
    is homed here or unknown); ``homed`` says a local prefix covers it.
    """

    referral: tuple[HandleValue, ...] = ()
    homed: bool = False


def candidate_prefixes(handle: str) -> list[str]:
    """The prefixes that may be responsible for ``handle``, nearest first."""
    prefix, _, suffix = handle.partition("/")
    if name_key(prefix) == name_key(NA_HANDLE_PREFIX[:-1]):
        return parent_prefixes(suffix)
    return [prefix, *parent_prefixes(prefix)]


def referral_values(values: tuple[HandleValue, ...]) -> tuple[HandleValue, ...]:
    """The publicly readable HS_SITE/HS_SERV values of a prefix handle."""
    return tuple(v for v in values if v.type in REFERRAL_TYPES and v.public_read)


class ReferralFinder:
    """Decides referrals from the prefixes and prefix handles in one store, and
    remembers them per prefix for ``ttl`` seconds (at most ``max_prefixes``)."""

    def __init__(self, store: HandleStore, *, ttl: float = 0.0, max_prefixes: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.ttl = ttl
        self.max_prefixes = max_prefixes
        self.clock = clock
        self._known: dict[str, tuple[Placement, float]] = {}
        self._generation = 0  # placements found before a forget() are not kept

    def forget(self) -> None:
        """Drop every remembered placement (a prefix handle or registration changed)."""
        self._known.clear()
        self._generation += 1

    def known(self, handle: str) -> Placement | None:
        """Where ``handle`` (not in the store) belongs if that is remembered now (what
        :meth:`place` would return without a query), else None."""
        candidates = candidate_prefixes(handle)
        if not candidates or not all(candidates):
            return Placement()
        known = self._known.get(name_key(candidates[0]))
        return known[0] if known is not None and known[1] > self.clock() else None

    async def place(self, handle: str) -> Placement:
        """Where ``handle`` (not in the store) belongs; costs one query per prefix tried
        the first time its prefix is asked about within ``ttl``."""
        candidates = candidate_prefixes(handle)
        if not candidates or not all(candidates):
            return Placement()
        key = name_key(candidates[0])
        known = self._known.get(key)
        now = self.clock()
        if known is not None and known[1] > now:
            return known[0]
        generation = self._generation
        placement = await self._place(candidates)
        if self.ttl > 0 and generation == self._generation:
            if len(self._known) >= self.max_prefixes:
                self._known.clear()
            self._known[key] = (placement, now + self.ttl)
        return placement

    async def _place(self, candidates: list[str]) -> Placement:
        registered = await self.store.match_prefix(candidates[0])
        nearest = name_key(registered.name) if registered is not None else None
        for prefix in candidates:
            if nearest is not None and name_key(prefix) == nearest:
                assert registered is not None
                if registered.kind != "delegated":
                    return Placement(homed=True)
                return Placement(await self._values_of(prefix), homed=True)
            found = await self._values_of(prefix)
            if found:
                return Placement(found)
        return Placement()

    async def _values_of(self, prefix: str) -> tuple[HandleValue, ...]:
        record = await self.store.get_handle(prefix_handle(prefix), types=REFERRAL_TYPES)
        return () if record is None else referral_values(record.values)
