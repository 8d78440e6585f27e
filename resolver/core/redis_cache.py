"""The shared cache level in Redis, and cache invalidation over Redis pub/sub.

Every process (on every host) of a node points at the same Redis: answers one
process fetched are found by the others without a database query, and a write
in one process drops the handle from every process's local cache.

* Keys are ``<prefix>a:<cache key>``; a value is a small header (kind,
  authoritative flag, expiry, source, chain) followed by the values in their
  Handle wire encoding (:func:`protocol.value_codec.encode_values`).  Keys
  expire ``stale_window`` seconds after the answer does, so a stale answer can
  still be served when the upstream fails; not-found answers expire with the
  answer (``negative_ttl``).
* Invalidation overwrites the keys with a short-lived tombstone (a fill that
  read the old record before the write cannot put it back: a fill never
  replaces a tombstone) and publishes the keys on ``<prefix>invalidate``; every subscriber drops
  them from its local cache.  A subscriber that lost its subscription clears
  its whole local cache when it is back, since it may have missed messages.
* With ``wait_replicas`` (Redis Sentinel: the promoted replica must not
  hold answers the old master had dropped) an invalidation counts only when
  that many replicas acknowledged it (``WAIT`` in the same pipeline).  One
  that Redis did not confirm (a failover, an outage) is kept and sent again
  every :data:`RETRY_SECONDS` until confirmed, at most
  :data:`PENDING_LIMIT` keys; beyond that the oldest are given up with an
  error in the log and their copies in Redis live until their TTL.
  :attr:`RedisCache.unconfirmed` counts invalidations not confirmed at once.
* Redis is an optimisation, never a dependency: every call has a short
  timeout, a failure opens a circuit for a growing back-off (0.5 s doubling
  up to 30 s) during which cache reads and fills skip Redis (the caller sees
  a miss); invalidations are always tried.  The subscriber reconnects on its
  own.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from protocol.errors import ProtocolError
from protocol.value_codec import decode_values, encode_values
from resolver.core.cache import Answer, Kind
from resolver.core.redis_link import RedisLink

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BBdH")  # kind, authoritative, expires, len(source)
_U16 = struct.Struct(">H")
TOMBSTONE = b"-"
_ERRORS = (RedisError, OSError, TimeoutError, asyncio.TimeoutError)
_T = TypeVar("_T")
# SET unless the key holds a tombstone: KEYS[1], ARGV = value, tombstone, ttl ms
_FILL = """
if redis.call('GET', KEYS[1]) == ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""

RETRY_SECONDS = 0.25
"""How often invalidations Redis did not confirm are sent again."""
PENDING_LIMIT = 100_000
"""Most cache keys waiting for a confirmed invalidation."""

OnInvalidate = Callable[[Sequence[str], bool], None]
"""Called with the invalidated cache keys and whether prefix-level answers must go too."""


def encode_answer(answer: Answer) -> bytes:
    """The Redis value of ``answer``."""
    source = answer.source.encode()
    chain = "\n".join(answer.chain).encode()
    return b"".join((
        _HEADER.pack(answer.kind.value, answer.authoritative, answer.expires, len(source)),
        source,
        _U16.pack(len(chain)),
        chain,
        encode_values(answer.values),
    ))


def decode_answer(data: bytes) -> Answer:
    """The answer stored as ``data``; ProtocolError/ValueError when it is damaged."""
    kind, authoritative, expires, size = _HEADER.unpack_from(data, 0)
    at = _HEADER.size
    source = data[at : at + size].decode()
    at += size
    (size,) = _U16.unpack_from(data, at)
    at += _U16.size
    chain = tuple(data[at : at + size].decode().split("\n")) if size else ()
    values = decode_values(data[at + size :])
    return Answer(Kind(kind), values, expires, source, chain, bool(authoritative))


class _Circuit:
    """Skip Redis for a while after a failure; the pause doubles up to ``max_pause``."""

    def __init__(self, first_pause: float = 0.5, max_pause: float = 30.0) -> None:
        self.first_pause, self.max_pause = first_pause, max_pause
        self.failures = 0
        self.closed_until = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self.closed_until

    def failed(self, what: str, exc: BaseException) -> None:
        if self.failures == 0:
            log.warning("redis unavailable (%s): %r; using the local cache only", what, exc)
        pause = min(self.max_pause, self.first_pause * 2 ** min(self.failures, 16))
        self.failures += 1
        self.closed_until = time.monotonic() + pause

    def succeeded(self) -> None:
        if self.failures:
            log.info("redis is back after %d failed attempts", self.failures)
        self.failures = 0


class RedisCache:
    """The shared cache level and invalidation bus of one process.

    ``url`` is a Redis URL or a :class:`RedisLink` (Sentinel);
    ``prefix`` starts every key and the channel name; ``timeout`` bounds each
    Redis call (seconds); ``tombstone_ttl`` is how long an invalidated key
    refuses fills; ``stale_window`` is how long past expiry answers are kept;
    ``wait_replicas`` replicas must confirm an invalidation (module doc).
    """

    def __init__(
        self,
        url: str | RedisLink,
        *,
        prefix: str = "idnode:",
        timeout: float = 0.25,
        stale_window: float = 0.0,
        tombstone_ttl: float = 5.0,
        wait_replicas: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self.channel = f"{prefix}invalidate"
        self.timeout = timeout
        self.stale_window = stale_window
        self.tombstone_ms = max(1, int(tombstone_ttl * 1000))
        self.clock = clock
        self.origin = uuid.uuid4().hex
        options: dict[str, Any] = {
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        link = url if isinstance(url, RedisLink) else RedisLink(url)
        self._client = link.client(socket_timeout=timeout, **options)
        self._bus = link.client(health_check_interval=2, **options)
        self._fill = self._client.register_script(_FILL)
        self._circuit = _Circuit()
        self._listener: asyncio.Task[None] | None = None
        self._retrier: asyncio.Task[None] | None = None
        self.wait_replicas = wait_replicas
        self.unconfirmed = 0
        self._pending: dict[str, bool] = {}  # cache key -> prefixes flag

    def key(self, cache_key: str) -> str:
        """The Redis key of a cache key."""
        return f"{self.prefix}a:{cache_key}"

    async def _call(
        self, what: str, op: Callable[[], Awaitable[_T]], *, always: bool = False
    ) -> _T | None:
        """Run one Redis operation; None when Redis is skipped (open circuit) or fails.

        ``always`` tries even through an open circuit (invalidations are rare
        and must not be lost to an earlier hiccup)."""
        if not (always or self._circuit.allows()):
            return None
        try:
            async with asyncio.timeout(self.timeout):
                result = await op()
        except _ERRORS as exc:
            self._circuit.failed(what, exc)
            return None
        self._circuit.succeeded()
        return result

    async def get(self, cache_key: str) -> Answer | None:
        """The stored answer (possibly expired but within the stale window), or None."""
        data = await self._call("get", lambda: self._client.get(self.key(cache_key)))
        if not isinstance(data, bytes) or data == TOMBSTONE:
            return None
        try:
            return decode_answer(data)
        except (ProtocolError, ValueError, struct.error) as exc:
            log.warning("redis cache: dropping a damaged entry: %r", exc)
            return None

    async def put(self, cache_key: str, answer: Answer, *, stale: bool = True) -> None:
        """Store ``answer`` unless the key holds a tombstone (it was just invalidated);
        ``stale`` keeps it ``stale_window`` seconds past its expiry (not for answers
        that a handle does not exist: those live only their ``negative_ttl``)."""
        window = self.stale_window if stale else 0.0
        ttl_ms = int((answer.expires + window - self.clock()) * 1000)
        if ttl_ms <= 0:
            return
        data = encode_answer(answer)
        await self._call(
            "set", lambda: self._fill(keys=[self.key(cache_key)], args=[data, TOMBSTONE, ttl_ms])
        )

    async def invalidate(self, cache_keys: Sequence[str], *, prefixes: bool = False) -> bool:
        """Tombstone ``cache_keys`` and tell every process to drop them; False if Redis failed
        or did not confirm it on ``wait_replicas`` replicas (then it is sent again later).

        ``prefixes`` asks subscribers to drop their referral and negative
        answers too (a prefix handle changed).
        """
        if await self._send(cache_keys, prefixes):
            return True
        self.unconfirmed += 1
        for key in cache_keys:
            self._pending[key] = self._pending.get(key, False) or prefixes
        if len(self._pending) > PENDING_LIMIT:
            excess = len(self._pending) - PENDING_LIMIT
            for key in list(self._pending)[:excess]:
                del self._pending[key]
            log.error("redis invalidation: gave up %d cache keys that Redis never confirmed; "
                      "their copies in Redis expire with their TTL", excess)
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.get_running_loop().create_task(self._retry())
        return False

    async def _send(self, cache_keys: Sequence[str], prefixes: bool) -> bool:
        message = orjson.dumps({"o": self.origin, "k": list(cache_keys), "p": prefixes})
        wait_ms = max(1, int(self.timeout * 500))

        async def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for cache_key in cache_keys:
                pipe.set(self.key(cache_key), TOMBSTONE, px=self.tombstone_ms)
            pipe.publish(self.channel, message)
            if self.wait_replicas:
                pipe.execute_command("WAIT", self.wait_replicas, wait_ms)
            return list(await pipe.execute())

        results = await self._call("invalidate", run, always=True)
        if results is None:
            return False
        return not self.wait_replicas or int(results[-1]) >= self.wait_replicas

    @property
    def pending(self) -> int:
        """Cache keys whose invalidation Redis has not confirmed yet."""
        return len(self._pending)

    async def _retry(self) -> None:
        """Send the unconfirmed invalidations again until Redis confirms them."""
        while self._pending:
            await asyncio.sleep(RETRY_SECONDS)
            batch = list(self._pending.items())[:1000]
            keys = [key for key, _ in batch]
            if await self._send(keys, any(p for _, p in batch)):
                for key in keys:
                    self._pending.pop(key, None)
                if not self._pending:
                    log.info("redis confirmed every delayed invalidation")

    def listen(self, on_invalidate: OnInvalidate, on_reset: Callable[[], None]) -> None:
        """Start applying other processes' invalidations (``on_reset`` after a lost link)."""
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(on_invalidate, on_reset)
            )

    async def _listen(self, on_invalidate: OnInvalidate, on_reset: Callable[[], None]) -> None:
        pause, first = 0.5, True
        while True:
            pubsub = self._bus.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not first:
                    log.info("redis invalidation channel is back; clearing the local cache")
                    on_reset()
                first, pause = False, 0.5
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._apply(message.get("data"), on_invalidate)
            except _ERRORS as exc:
                log.debug("redis invalidation channel lost: %r", exc)
                first = False
            finally:
                await _quietly(pubsub.aclose())
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    def _apply(self, data: object, on_invalidate: OnInvalidate) -> None:
        if not isinstance(data, bytes):
            return
        try:
            message = orjson.loads(data)
            if message["o"] == self.origin:
                return
            keys = [str(k) for k in message["k"]]
            on_invalidate(keys, bool(message.get("p")))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("redis invalidation: ignoring a malformed message: %r", exc)

    async def close(self) -> None:
        """Stop listening and close the connections."""
        for task in (self._listener, self._retrier):
            if task is not None:
                task.cancel()
                await _quietly(task)
        self._listener = self._retrier = None
        await _quietly(self._client.aclose())
        await _quietly(self._bus.aclose())


async def _quietly(awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except (asyncio.CancelledError, *_ERRORS):
        pass
