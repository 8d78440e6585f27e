"""The in-process answer cache: a size-bounded LRU of resolution answers.

An :class:`Answer` is what the resolution stack knows about one handle: its
full record (``FOUND``; never filtered for a caller, so read permissions are
applied per request), that it does not exist (``ABSENT``), or where to ask
instead (``REFERRAL``, with the HS_SITE/HS_SERV values).  An answer carries an
absolute expiry time: the smallest TTL of its values (relative TTLs counted
from when it was fetched, absolute TTLs as written), or ``negative_ttl`` for
an answer without values.

:class:`LocalCache` keeps answers past their expiry for ``stale_window``
seconds so that :meth:`LocalCache.get_stale` can serve them when the upstream
fails (stale-if-error); :meth:`LocalCache.get` returns fresh answers only.
The clock is injected (``time.time`` by default) so tests control expiry.

Memory is bounded in bytes, not only in entries: every entry is charged
:func:`answer_bytes` (its values, key and a fixed overhead), and the pre-encoded
forms front ends keep with an answer (:meth:`LocalCache.keep_render`: a Handle
datagram, a REST body) are charged to that entry, so a flood of large records
or of request variants evicts old entries instead of growing the process.
A dropped or replaced answer takes its renders with it: an invalidation can
never leave a pre-encoded copy of the old record behind.

What the cache keeps is out of the cyclic garbage collector's sight
(:mod:`resolver.core.untracked`): an answer, its values and its renders hold
numbers, strings, bytes and tuples of those, never a cycle, and with some twenty
container objects a record the collector's passes walked the cache again and
again (stopping the event loop 13-31 ms every ~2,200 cold answers, longer as the
cache filled).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from protocol.record_image import RecordImage
from protocol.values import TTL_TYPE_ABSOLUTE, HandleValue
from resolver.core.untracked import untrack

Clock = Callable[[], float]

ENTRY_OVERHEAD = 400
"""Bytes charged per entry on top of its data (dict slot, Answer, key string)."""
VALUE_OVERHEAD = 160
"""Bytes charged per value on top of its type and data (the HandleValue object)."""
MAX_RENDERS = 8
"""Pre-encoded forms kept per answer (request variants beyond this are not kept)."""


class Kind(Enum):
    """What an answer says about its handle."""

    FOUND = 1
    ABSENT = 2
    REFERRAL = 3


@dataclass(frozen=True, slots=True)
class Answer:
    """One cached answer; ``expires`` is in clock seconds (epoch by default).

    ``authoritative`` is false for an ``ABSENT`` answer about a handle under no
    prefix this node knows (a recursive request then asks the root).
    ``source`` names where the answer came from (``local`` or ``host:port``)
    and ``chain`` the hops a recursive resolution took; ``fetched`` is when it
    was fetched from its authority, in clock seconds (0: not known, e.g. read
    from Redis), what a verification's maximum age is checked against.
    """

    kind: Kind
    #: a :class:`CachedImage` when read as the record's image (decoded when first asked)
    values: Sequence[HandleValue]
    expires: float
    source: str = "local"
    chain: tuple[str, ...] = ()
    authoritative: bool = True
    stale: bool = False
    fetched: float = 0.0
    renders: dict[object, object] = field(default_factory=dict, compare=False, repr=False)
    """Pre-encoded forms of this answer, by what a front end asked for (see
    :meth:`LocalCache.keep_render`); only ever filled for an answer in a cache."""


class CachedImage(RecordImage):
    """A record image (:mod:`protocol.record_image`) as the cache keeps it: the values
    it decodes are out of the cyclic collector's sight too (see the module docstring)."""

    __slots__ = ()

    def decode(self) -> tuple[HandleValue, ...]:
        values = super().decode()
        untrack_values(values)
        return values


def untrack_values(values: Sequence[HandleValue]) -> None:
    """Take the sequence ``values``, its values and their references out of the cyclic
    collector's sight (an image only itself: its values as it decodes them)."""
    if not isinstance(values, RecordImage):
        untrack(values)
        for value in values:
            if value.references:  # most values have none (the untracked empty tuple)
                untrack(value.references)
                untrack((value.references,))
    untrack((values,))


def untrack_answer(answer: Answer) -> None:
    """Take ``answer``, its values and their references out of the cyclic collector's
    sight (none can be in a reference cycle: see the module docstring)."""
    untrack_values(answer.values)
    untrack((answer.chain, answer))


def answer_bytes(key: str, answer: Answer) -> int:
    """What keeping ``answer`` under ``key`` is charged (renders are charged as added);
    an image is charged its bytes and what its values take once decoded."""
    values = answer.values
    if isinstance(values, RecordImage):
        return ENTRY_OVERHEAD + len(key) + 2 * len(values.wire) + VALUE_OVERHEAD * len(values)
    return ENTRY_OVERHEAD + len(key) + sum(
        VALUE_OVERHEAD + len(v.type) + len(v.data) for v in values
    )


def expiry(values: Sequence[HandleValue], now: float, negative_ttl: float) -> float:
    """When an answer made of ``values`` at ``now`` stops being fresh.

    The smallest TTL wins; an absolute TTL is an expiry time in epoch seconds.
    Without values the answer lives ``negative_ttl`` seconds.
    """
    if isinstance(values, RecordImage):  # without decoding it
        return values.expiry(now, negative_ttl)
    if not values:
        return now + negative_ttl
    return min(
        float(v.ttl) if v.ttl_type == TTL_TYPE_ABSOLUTE else now + v.ttl for v in values
    )


class LocalCache:
    """An LRU of answers keyed by string, bounded by ``max_size`` entries and
    ``max_bytes`` charged bytes (0: no byte bound); not thread-safe (one event loop)."""

    def __init__(
        self,
        max_size: int,
        *,
        max_bytes: int = 0,
        stale_window: float = 0.0,
        clock: Clock = time.time,
    ) -> None:
        self.max_size = max_size
        self.max_bytes = max_bytes
        self.stale_window = stale_window
        self.clock = clock
        self.bytes = 0
        #: counts every answer dropped, replaced or evicted: unchanged between two
        #: reads, every answer cached in between was only added (:meth:`added_since`)
        self.removals = 0
        self._entries: OrderedDict[str, Answer] = OrderedDict()
        self._charged: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Answer | None:
        """The fresh answer under ``key``, or None (an expired one stays for get_stale)."""
        answer = self._entries.get(key)
        if answer is None or answer.expires <= self.clock():
            return None
        self._entries.move_to_end(key)
        return answer

    def get_stale(self, key: str) -> Answer | None:
        """The answer under ``key`` if it expired less than ``stale_window`` seconds ago."""
        answer = self._entries.get(key)
        if answer is None:
            return None
        if answer.expires + self.stale_window <= self.clock():
            self._remove(key)
            return None
        return answer

    def put(self, key: str, answer: Answer) -> None:
        """Store ``answer`` (if it is still worth keeping), evicting the least recently used."""
        if self.max_size <= 0 or answer.expires + self.stale_window <= self.clock():
            return
        size = answer_bytes(key, answer)
        if self.max_bytes and size > self.max_bytes:
            self._remove(key)  # larger than the whole cache: not kept (nor its old answer)
            return
        self._remove(key)
        untrack_answer(answer)
        self._entries[key] = answer
        self._charge(key, size)
        self._evict()

    def keep_render(self, key: str, answer: Answer, form: object, rendered: object,
                    size: int) -> bool:
        """Keep ``rendered`` (``size`` bytes) as ``answer``'s pre-encoded ``form`` if
        ``answer`` is still the one cached under ``key``; whether it was kept.

        ``form`` and ``rendered`` are taken out of the cyclic collector's sight with
        the renders: they must hold only what cannot lead back to them (bytes,
        strings, numbers, tuples of those)."""
        renders = answer.renders
        if self._entries.get(key) is not answer or len(renders) >= MAX_RENDERS:
            return False
        if self.max_bytes and self._charged[key] + size > self.max_bytes:
            return False
        renders[form] = rendered
        untrack((form, rendered, renders))
        self._charge(key, size)
        self._evict()
        return True

    def drop(self, keys: Sequence[str]) -> None:
        """Forget ``keys``."""
        for key in keys:
            self._remove(key)

    def drop_matching(self, match: Callable[[str, Answer], bool]) -> int:
        """Forget every entry ``match`` accepts (a full scan: for rare prefix changes)."""
        doomed = [key for key, answer in self._entries.items() if match(key, answer)]
        for key in doomed:
            self._remove(key)
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (after missing invalidations, e.g. a lost Redis subscription)."""
        self.removals += 1
        self._entries.clear()
        self._charged.clear()
        self.bytes = 0

    def _charge(self, key: str, size: int) -> None:
        self._charged[key] = self._charged.get(key, 0) + size
        self.bytes += size

    def _remove(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self.bytes -= self._charged.pop(key)
            self.removals += 1

    def _evict(self) -> None:
        """Drop least recently used entries until both bounds hold."""
        entries = self._entries
        while len(entries) > self.max_size or (self.max_bytes and self.bytes > self.max_bytes):
            key, _ = entries.popitem(last=False)
            self.bytes -= self._charged.pop(key)
            self.removals += 1
