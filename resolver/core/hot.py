"""The no-I/O way into the answer cache for front ends that keep pre-encoded answers.

A front end that has already answered a request from a cached record may keep
the bytes it sent (a Handle datagram, a REST body) with that record
(:meth:`HotAnswers.keep`), and answer the same request again from those bytes
without decoding it, resolving or encoding (:meth:`HotAnswers.lookup`, then
``answer.renders``).  The renders live in the record's cache entry
(:meth:`resolver.core.cache.LocalCache.keep_render`): an invalidation, an
expiry or an eviction drops them with the record, and they are charged to the
cache's byte bound.

Only what :meth:`ResolutionService.resolve` would answer from memory with no
I/O is offered: a fresh local record (not a referral, not a not-found), of a
handle whose prefix is not suspended.  Read permissions are the front end's
business: it keeps only answers whose bytes depend on nothing but the request
bytes and the record (anonymous callers, no signature, no session).
"""

from __future__ import annotations

from registry.names import name_key
from resolver.core.cache import Answer, Kind
from resolver.core.service import ResolutionService
from resolver.core.stack import LOCAL, ResolutionStack


class HotAnswers:
    """Cached records of one service, for answering from pre-encoded forms."""

    def __init__(self, service: ResolutionService) -> None:
        self.service = service
        answers = service.answers
        self.stack = answers if isinstance(answers, ResolutionStack) else None

    def lookup(self, handle: str) -> Answer | None:
        """The fresh cached record of ``handle`` (None: go the ordinary way)."""
        stack = self.stack
        if stack is None:
            return None
        suspended = self.service.suspended
        if suspended is not None and suspended.refuses(handle):
            return None
        answer = stack.local.get(LOCAL + name_key(handle))
        return answer if answer is not None and answer.kind is Kind.FOUND else None

    def mark(self) -> int:
        """Where the cache stands now, for :meth:`added_since`."""
        return self.stack.local.removals if self.stack is not None else -1

    def added_since(self, handle: str, mark: int) -> Answer | None:
        """The fresh cached record of ``handle`` if nothing was dropped, replaced or
        evicted from the cache since :meth:`mark` returned ``mark``: then it is the
        record a request that started at ``mark`` and fetched ``handle`` was answered
        from (a front end may keep that answer's bytes with it)."""
        if self.stack is None or self.stack.local.removals != mark:
            return None
        return self.lookup(handle)

    def keep(self, handle: str, answer: Answer, form: object, rendered: object,
             size: int) -> bool:
        """Keep ``rendered`` as ``answer``'s ``form`` while ``answer`` is the cached
        record of ``handle``; whether it was kept."""
        if self.stack is None:
            return False
        return self.stack.local.keep_render(LOCAL + name_key(handle), answer, form, rendered,
                                            size)

    def served(self, handle: str) -> None:
        """Count an answer sent from a pre-encoded form as the ordinary path counts it
        (a memory hit, a successful resolution in the usage statistics)."""
        if self.stack is not None:
            self.stack.count_hit()
        usage = self.service.usage
        if usage is not None:
            usage.resolved_kept(handle)
