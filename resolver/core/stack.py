"""The resolution stack behind ResolutionService (built by :mod:`resolver.core.assembly`).

One request for a handle goes: in-process LRU (:mod:`resolver.core.cache`) ->
Redis (:mod:`resolver.core.redis_cache`, when configured) -> the store, or the
referral this node answers with (:mod:`resolver.core.referral`) -> for recursive
requests, the recursive resolver (:mod:`resolver.core.recursive`).  Local answers
and recursively fetched ones are cached apart (keys ``l:`` and ``r:`` + the
handle's lookup key).

* A hot handle costs two dict lookups: no SQL, no Redis round trip.
* Answers that a handle does not exist live in their own LRU
  (:attr:`ResolutionStack.negative`, ``negative_cache_bytes``) for
  ``negative_ttl`` seconds, and in Redis for no longer: a flood of made-up
  names evicts other made-up names, never the hot records
  (:attr:`ResolutionStack.local`, ``cache_bytes``).
* Concurrent misses for one key share one fetch (single-flight); an answer
  whose handle was invalidated while it was being fetched is returned but not
  cached (it may be the record the write replaced).
* A failed fetch (store error, or no upstream server answering) serves the
  stale answer if it expired less than ``stale_if_error`` seconds ago,
  marked ``stale=True``.
* ``answer(..., max_age=N)`` (what verification asks for the issuers of a
  signature chain, ``revocation_ttl``) serves a cached answer only if it was
  fetched from its authority less than N seconds ago; an older one is fetched
  again (the store for a hosted handle, upstream for others; Redis copies carry
  no fetch time, so it skips Redis) and replaces the cached one, for everyone.
  Concurrent refreshes of one key share one fetch, apart from plain misses; a
  plain answer (no ``max_age``) costs nothing more.
* :meth:`ResolutionStack.invalidate` (called by the service's writes before
  they return) drops the handle here and, through Redis, everywhere.  A
  changed prefix handle also drops every referral and negative answer.
  :func:`invalidation_of` says what to drop for a set of handles and
  :func:`redis_prefix_of` where a node's keys and channel live, so that a
  process without a stack (the CLI, :mod:`admin.invalidation`) publishes the
  same invalidation.  :meth:`ResolutionStack.forget` drops handles here only:
  the registry's change feed (:mod:`resolver.core.change_feed`) tells each
  process, Redis or not, what others wrote.
* With read replicas (:mod:`registry.replicas`) a record comes from a replica
  unless its handle was dropped here within the replicas' lag bound (then from
  the primary); a write invalidates Redis a second time after that bound, in
  case a process that had not heard of it yet shared a replica's older copy.
* Referrals, and records holding an HS_SECKEY, stay out of Redis.
* Hits and misses are counted per layer (``memory``, ``redis``) once, in the
  :class:`resolver.core.metrics.Metrics` given (the node's shared one) or the
  stack's own; :attr:`ResolutionStack.counters` reads them back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from protocol.constants import NA_HANDLE_PREFIX, TYPE_HS_SECKEY
from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.names import name_key
from registry.store import HandleStore
from resolver.core.cache import Answer, CachedImage, Clock, Kind, LocalCache, expiry
from resolver.core.metrics import Metrics
from resolver.core.model import ServiceError
from resolver.core.recursive import RecursiveResolver, UpstreamError
from resolver.core.redis_cache import RedisCache
from resolver.core.referral import ReferralFinder

log = logging.getLogger(__name__)

LOCAL = "l:"
REMOTE = "r:"
#: what the single-flight key of a refresh (a fetch for ``max_age``) starts with
FRESH = "~"
# the store's failures: SQLAlchemy's, and the sqlite3 driver's on its direct read path
_STORE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError)
_NA_KEY = name_key(NA_HANDLE_PREFIX)

Fetch = Callable[[str], Awaitable[Answer]]


def invalidation_of(handles: Iterable[str]) -> tuple[list[str], bool]:
    """The cache keys of ``handles`` (local and recursive answers), and whether one is a
    prefix handle (then every referral and negative answer must go too)."""
    keys = [name_key(h) for h in handles]
    return [mode + key for key in keys for mode in (LOCAL, REMOTE)], any(
        key.startswith(_NA_KEY) for key in keys
    )


def redis_prefix_of(config: NodeConfig) -> str:
    """What a node's Redis keys and channels start with: ``redis_prefix``, by default
    ``idnode:<first prefix>:``."""
    return config.redis_prefix or f"idnode:{config.prefixes[0]}:"


class SingleFlight:
    """Runs one fetch per key at a time; callers arriving meanwhile share its result.

    The fetch starts one turn of the event loop later, so the callers already
    queued on the loop for the same key join it even when the fetch itself never
    waits (a SQLite point read runs on the loop thread: :mod:`registry.sqlite_reads`).
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Answer]] = {}

    def keys(self) -> list[str]:
        """The keys being fetched now."""
        return list(self._running)

    def running(self, key: str) -> bool:
        """Whether ``key`` is being fetched now."""
        return key in self._running

    async def run(self, key: str, work: Callable[[], Awaitable[Answer]]) -> Answer:
        """The result of ``work()``, or of the run for ``key`` already in progress."""
        while (running := self._running.get(key)) is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise
                # the leading caller was cancelled: take over
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            await asyncio.sleep(0)
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._running[key]


class ResolutionStack:
    """Cached, referral-aware and optionally recursive answers over one store.

    ``negative_ttl`` is how long an answer without values lives;
    ``cache_bytes`` and ``negative_cache_bytes`` bound the memory of the
    answer LRU and of the not-found LRU (entries are charged
    :func:`resolver.core.cache.answer_bytes` plus their pre-encoded forms);
    ``stale_if_error`` how long past expiry an answer may still be served when
    its upstream fails; ``clock`` gives epoch seconds (tests move it).
    """

    def __init__(
        self,
        store: HandleStore,
        *,
        cache_size: int = 100_000,
        cache_bytes: int = 256 << 20,
        negative_cache_bytes: int = 16 << 20,
        negative_ttl: float = 60.0,
        stale_if_error: float = 3600.0,
        redis: RedisCache | None = None,
        recursor: RecursiveResolver | None = None,
        metrics: Metrics | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.negative_ttl = negative_ttl
        self.stale_if_error = stale_if_error
        self.clock = clock
        self.local = LocalCache(
            cache_size, max_bytes=cache_bytes, stale_window=stale_if_error, clock=clock
        )
        self.negative = LocalCache(
            cache_size, max_bytes=negative_cache_bytes, stale_window=stale_if_error, clock=clock
        )
        self.redis = redis
        self.recursor = recursor
        self.referrals = ReferralFinder(store, ttl=negative_ttl, clock=clock)
        self.metrics = metrics or Metrics()
        self._flights = SingleFlight()
        self._invalidated: set[str] = set()  # keys dropped while being fetched
        self._later: set[asyncio.Task[None]] = set()  # second invalidations (replicas)

    # --- answering -------------------------------------------------------------

    async def answer(
        self, handle: str, *, recursive: bool = False, max_age: float | None = None
    ) -> Answer:
        """What is known about ``handle``; ``recursive`` follows referrals to the end;
        ``max_age`` (seconds) refuses cached answers fetched longer ago than that."""
        key = name_key(handle)
        local = await self._cached(LOCAL + key, handle, self._fetch_local, max_age)
        recursor = self.recursor
        if not recursive or recursor is None:
            return local
        if local.kind is Kind.REFERRAL:
            referral = local.values
            return await self._cached(
                REMOTE + key, handle, lambda name: recursor.follow(name, referral), max_age
            )
        if local.kind is Kind.ABSENT and not local.authoritative and recursor.root is not None:
            return await self._cached(REMOTE + key, handle, recursor.from_root, max_age)
        return local

    def answer_now(self, handle: str, *, recursive: bool = False) -> Answer | None:
        """What :meth:`answer` would return (no ``max_age``), when it needs no waiting:
        a fresh cached answer, or a record (or a miss under a placement already known)
        read from the store on this thread and cached as :meth:`answer` caches it.
        None when anything would have to wait (Redis, replicas, a read that cannot run
        here, a fetch of the same handle in progress, recursion): then ask :meth:`answer`.
        Nothing can run in between, so no invalidation can overtake what it caches."""
        key = LOCAL + name_key(handle)
        local = self.fresh(key)
        if local is not None:
            self._count("memory", True)
        else:
            local = self._fetch_now(key, handle)
            if local is None:
                return None
            self._count("memory", False)
            self.cache_of(local).put(key, local)
        if recursive and self.recursor is not None and (
            local.kind is Kind.REFERRAL
            or (local.kind is Kind.ABSENT and not local.authoritative
                and self.recursor.root is not None)
        ):
            return None
        return local

    def _fetch_now(self, key: str, handle: str) -> Answer | None:
        """:meth:`_fetch_local` when it needs no waiting (see :meth:`answer_now`)."""
        if self.redis is not None or self.store.replicas is not None or self._flights.running(
            key
        ):
            return None
        now = self.clock()
        try:
            read, values = self.store.get_values_now(handle, CachedImage)
        except _STORE_ERRORS:
            return None  # the waiting path meets it again and answers as it does
        if not read:
            return None
        if values is not None:
            return Answer(Kind.FOUND, values, self._expiry(values, now), fetched=now)
        placement = self.referrals.known(handle)
        if placement is None:
            return None
        if placement.referral:
            referral = placement.referral
            return Answer(Kind.REFERRAL, referral, self._expiry(referral, now), fetched=now)
        return Answer(Kind.ABSENT, (), now + self.negative_ttl, authoritative=placement.homed,
                      fetched=now)

    def cache_of(self, answer: Answer) -> LocalCache:
        """The LRU ``answer`` belongs in: not-found answers have their own."""
        return self.negative if answer.kind is Kind.ABSENT else self.local

    def fresh(self, key: str) -> Answer | None:
        """The fresh answer cached under ``key`` in this process, if any."""
        hit = self.local.get(key)
        return hit if hit is not None else self.negative.get(key)

    async def _cached(
        self, key: str, handle: str, fetch: Fetch, max_age: float | None = None
    ) -> Answer:
        hit = self.fresh(key)
        if hit is not None and (max_age is None or self.clock() - hit.fetched < max_age):
            self._count("memory", True)
            return hit
        self._count("memory", False)
        flight = key if max_age is None else FRESH + key
        return await self._flights.run(
            flight, lambda: self._fill(flight, key, handle, fetch, max_age is not None)
        )

    async def _fill(
        self, flight: str, key: str, handle: str, fetch: Fetch, refresh: bool
    ) -> Answer:
        """Fetch ``key`` (one caller per ``flight`` at a time); an answer invalidated
        meanwhile is not kept."""
        self._invalidated.discard(flight)
        try:
            return await self._fetch(flight, key, handle, fetch, refresh)
        finally:
            self._invalidated.discard(flight)

    async def _fetch(
        self, flight: str, key: str, handle: str, fetch: Fetch, refresh: bool
    ) -> Answer:
        shared = None
        if self.redis is not None and not refresh:
            shared = await self.redis.get(key)
            fresh = shared is not None and shared.expires > self.clock()
            self._count("redis", fresh)
            if shared is not None and fresh:
                if flight not in self._invalidated:
                    self.cache_of(shared).put(key, shared)
                return shared
        try:
            answer = await fetch(handle)
        except UpstreamError as exc:
            return self._stale(key, shared, exc, ServiceError(exc.response_code, exc.message))
        except _STORE_ERRORS as exc:
            return self._stale(key, shared, exc, exc)
        if flight not in self._invalidated:
            self.cache_of(answer).put(key, answer)
            if self.redis is not None and _shareable(answer):
                await self.redis.put(key, answer, stale=answer.kind is not Kind.ABSENT)
        return answer

    def _stale(
        self, key: str, shared: Answer | None, problem: Exception, failure: Exception
    ) -> Answer:
        """The stale answer to serve instead of raising ``failure``."""
        stale = self.local.get_stale(key) or self.negative.get_stale(key)
        if stale is None and shared is not None and (
            shared.expires + self.stale_if_error > self.clock()
        ):
            stale = shared
        if stale is None:
            raise failure from None
        log.warning("serving a stale answer key=%s because: %s", key, problem)
        return dataclasses.replace(stale, stale=True)

    async def _fetch_local(self, handle: str) -> Answer:
        now = self.clock()
        values = await self.store.get_values(handle, CachedImage, replica=True)
        if values is not None:
            return Answer(Kind.FOUND, values, self._expiry(values, now), fetched=now)
        placement = await self.referrals.place(handle)
        if placement.referral:
            referral = placement.referral
            return Answer(Kind.REFERRAL, referral, self._expiry(referral, now), fetched=now)
        return Answer(Kind.ABSENT, (), now + self.negative_ttl, authoritative=placement.homed,
                      fetched=now)

    def _expiry(self, values: Sequence[HandleValue], now: float) -> float:
        return expiry(values, now, self.negative_ttl)

    def count_hit(self) -> None:
        """Count a memory hit served without :meth:`answer` (a pre-encoded answer)."""
        self._count("memory", True)

    def _count(self, layer: str, hit: bool) -> None:
        if hit:
            self.metrics.cache_hit(layer)
        else:
            self.metrics.cache_miss(layer)

    @property
    def counters(self) -> dict[str, int]:
        """Hits and misses so far per layer (``memory_hits``, ``redis_misses``...), as
        :attr:`metrics` counted them."""
        return {
            f"{layer}_{kind}": n
            for layer, (hits, misses) in self.metrics.cache_counts().items()
            for kind, n in (("hits", hits), ("misses", misses)) if n
        }

    # --- invalidation ------------------------------------------------------------

    async def invalidate(self, handles: Sequence[str]) -> None:
        """Drop ``handles`` from every cache of every process (before a write is acknowledged)."""
        keys, prefixes = invalidation_of(handles)
        self._drop(keys, prefixes)
        if self.redis is not None and not await self.redis.invalidate(keys, prefixes=prefixes):
            log.warning("invalidation of %d handle(s) not confirmed by Redis: sent again until "
                        "it is; the change feed drops them in the other processes", len(handles))
        replicas = self.store.replicas
        if self.redis is not None and replicas is not None:
            self._invalidate_again(keys, prefixes, replicas.bound)

    def _invalidate_again(self, keys: list[str], prefixes: bool, delay: float) -> None:
        """Invalidate ``keys`` in Redis once more after ``delay`` seconds: another process
        that read a replica before hearing of the write may have shared what it read."""
        redis = self.redis
        assert redis is not None

        async def again() -> None:
            await asyncio.sleep(delay)
            await redis.invalidate(keys, prefixes=prefixes)

        task = asyncio.get_running_loop().create_task(again())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def forget(self, handles: Sequence[str], *, prefixes: bool = False) -> None:
        """Drop ``handles`` from this process's cache only (someone else already wrote
        and told the other processes); ``prefixes`` also drops every referral and
        negative answer, as a changed prefix handle does."""
        keys, any_prefix = invalidation_of(handles)
        self._drop(keys, prefixes or any_prefix)

    def _drop(self, keys: Sequence[str], prefixes: bool) -> None:
        replicas = self.store.replicas
        if replicas is not None:  # a replica may still hold the record the write replaced
            replicas.wrote((k[len(LOCAL):] for k in keys if k.startswith(LOCAL)),
                           everything=prefixes)
        self.local.drop(keys)
        self.negative.drop(keys)
        fetching = self._flights.keys()
        dropped = set(keys)
        self._invalidated.update(
            fetching if prefixes else (f for f in fetching if f.removeprefix(FRESH) in dropped)
        )
        if prefixes:
            self.referrals.forget()
            self.negative.clear()
            self.local.drop_matching(lambda _key, answer: answer.kind is not Kind.FOUND)

    def reset(self) -> None:
        """Forget every answer (invalidations may have been missed)."""
        self.local.clear()
        self.negative.clear()
        self.referrals.forget()
        self._invalidated.update(self._flights.keys())

    # --- life cycle --------------------------------------------------------------

    def start(self) -> None:
        """Start following other processes' invalidations (needs a running loop)."""
        if self.redis is not None:
            self.redis.listen(self._drop, self.reset)

    async def close(self) -> None:
        """Stop the invalidation listener and close the Redis connections."""
        for task in list(self._later):
            task.cancel()
        if self.redis is not None:
            await self.redis.close()


def _shareable(answer: Answer) -> bool:
    """Whether ``answer`` may go to Redis: not a referral (prefix changes drop those
    locally only), and no secret key material leaves the process."""
    return answer.kind is not Kind.REFERRAL and not any(
        v.type == TYPE_HS_SECKEY for v in answer.values
    )
