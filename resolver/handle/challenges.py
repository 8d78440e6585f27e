"""Pending authentication challenges (``HandleServer.pendingAuthorizations``).

A challenge is issued for a request that needs an identity; the client's
answer names it by the session id the challenge carried.  Each challenge can be
answered once (taking it removes it, so a replayed answer finds nothing) and
only within its lifetime; the table is bounded, the oldest challenge making
room for a new one.  Challenges sent over UDP (to an address anyone can put
in a datagram) are kept apart from the others, each kind within its own
bound: a spoofed UDP flood only pushes out UDP challenges, never those of
clients that came over TCP or HTTP (issue 18 F9).

CNRI clients send the answer on a new connection, which SO_REUSEPORT may hand
to another worker process: workers then share one table held by a
``multiprocessing`` manager (:mod:`resolver.handle.shared_auth`), reached through
:class:`ChallengeStore` off the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Challenge(Generic[T]):
    """An open challenge: the nonce sent, the request digest, and the request it guards."""

    session_id: int
    nonce: bytes
    digest_alg: int
    request_digest: bytes
    request: T
    expires: float


class ChallengeTable(Generic[T]):
    """Open challenges by session id, single-use and expiring."""

    def __init__(
        self,
        lifetime: float,
        max_pending: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lifetime = lifetime
        self._max = max(1, max_pending)
        self._clock = clock
        self._open: OrderedDict[int, Challenge[T]] = OrderedDict()
        self._spoofable: OrderedDict[int, Challenge[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open) + len(self._spoofable)

    def issue(
        self,
        nonce: bytes,
        digest_alg: int,
        request_digest: bytes,
        request: T,
        session_id: int = 0,
        spoofable: bool = False,
    ) -> Challenge[T]:
        """Open a challenge under ``session_id`` (the request's Handle session, which
        CNRI reuses), or else under a fresh, unguessable, positive id; ``spoofable``
        for one sent to an unproven address (UDP)."""
        pool = self._spoofable if spoofable else self._open
        self._purge(pool)
        while len(pool) >= self._max:
            pool.popitem(last=False)
        if session_id > 0:  # a new challenge replaces the session's last
            self._open.pop(session_id, None)
            self._spoofable.pop(session_id, None)
        while session_id <= 0 or session_id in self._open or session_id in self._spoofable:
            session_id = secrets.randbits(31)
        challenge = Challenge(
            session_id, nonce, digest_alg, request_digest, request, self._clock() + self._lifetime
        )
        pool[session_id] = challenge
        return challenge

    def take(self, session_id: int) -> Challenge[T] | None:
        """Remove and return the live challenge ``session_id``; None if unknown, used or expired."""
        challenge = self._open.pop(session_id, None) or self._spoofable.pop(session_id, None)
        if challenge is None or challenge.expires < self._clock():
            return None
        return challenge

    def _purge(self, pool: OrderedDict[int, Challenge[T]]) -> None:
        now = self._clock()
        while pool:
            first = next(iter(pool.values()))
            if first.expires >= now:
                break
            pool.popitem(last=False)


class ChallengeStore(Generic[T]):
    """Async access to a :class:`ChallengeTable` in this process or, when
    ``remote``, to a manager proxy of one shared by several processes."""

    def __init__(self, table: ChallengeTable[T], *, remote: bool = False) -> None:
        self.table = table
        self.remote = remote

    async def issue(
        self, nonce: bytes, digest_alg: int, request_digest: bytes, request: T, session_id: int = 0,
        spoofable: bool = False,
    ) -> Challenge[T]:
        """See :meth:`ChallengeTable.issue`."""
        args = (nonce, digest_alg, request_digest, request, session_id, spoofable)
        if self.remote:
            return await asyncio.to_thread(self.table.issue, *args)
        return self.table.issue(*args)

    async def take(self, session_id: int) -> Challenge[T] | None:
        """See :meth:`ChallengeTable.take`."""
        if self.remote:
            return await asyncio.to_thread(self.table.take, session_id)
        return self.table.take(session_id)
