"""The resolver core's shared vocabulary, imported by every other core module and front end.

Who asks (:class:`Caller`), what comes back (:class:`Resolution`), how a refusal
is said (:class:`ServiceError`), and what the service reads answers through
(:class:`Answers`, implemented by :class:`resolver.core.stack.ResolutionStack`).
It imports no other resolver module, so the service, the stack, the recursive
resolver and the client can all use these without importing one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from protocol.values import HandleValue
from resolver.core.cache import Answer


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an authenticated admin ``handle``:``index``, or ``Caller(None, None)``.

    ``enterprise`` names the enterprise of a reader known without a Handle
    identity (a logged-in console user reading product pages): it may read
    what that enterprise may read (:mod:`registry.tiers`), and write nothing.
    """

    handle: str | None
    index: int | None
    enterprise: str | None = None

    @property
    def authenticated(self) -> bool:
        """True for an identity proven by a credential."""
        return self.handle is not None

    @property
    def anonymous(self) -> bool:
        """True for a reader who proved nothing: it sees public values only."""
        return self.handle is None and self.enterprise is None


ANONYMOUS = Caller(None, None)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer to a resolution.

    ``withheld`` counts selected values left out because the caller may not
    read them (the Handle server challenges for them when asked to).
    """

    handle: str
    response_code: int
    #: a :class:`protocol.record_image.RecordImage` when the record's image is the answer
    values: Sequence[HandleValue]
    authoritative: bool = True
    source: str = "local"
    stale: bool = False
    referral_values: tuple[HandleValue, ...] = ()
    chain: tuple[str, ...] = ()
    withheld: int = 0


class ServiceError(Exception):
    """A refused request: ``response_code`` is the Handle RC_* code to answer with."""

    def __init__(self, response_code: int, message: str = "") -> None:
        super().__init__(message or str(response_code))
        self.response_code = response_code
        self.message = message


class Answers(Protocol):
    """Where the service gets whole records from (caching, referrals, recursion)."""

    @property
    def counters(self) -> dict[str, int]:
        """Cache hits and misses so far, per layer."""

    async def answer(
        self, handle: str, *, recursive: bool = False, max_age: float | None = None
    ) -> Answer:
        """What is known about ``handle`` (cached no longer than ``max_age`` seconds ago,
        if given)."""

    def answer_now(self, handle: str, *, recursive: bool = False) -> Answer | None:
        """What :meth:`answer` would return (no maximum age) if that needs no waiting,
        else None."""

    async def invalidate(self, handles: Sequence[str]) -> None:
        """Forget ``handles`` everywhere before a write is acknowledged."""

    async def close(self) -> None:
        """Release connections and listeners."""
