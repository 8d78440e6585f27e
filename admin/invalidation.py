"""Telling running servers about the CLI's writes: cache invalidation over Redis.

The CLI writes straight to the registry, while every serving process keeps
answers (and "not found") in its caches.  With
``redis_url`` configured, a :class:`CacheInvalidation` is the store's
``on_change`` hook (:mod:`registry.base`) for the length of a command: after
each committed write it publishes the changed handles on the channel the
servers listen on, with the keys and message their own writes use
(:func:`resolver.core.stack.invalidation_of`,
:meth:`resolver.core.redis_cache.RedisCache.invalidate`; a changed prefix also
drops every process's referrals and negative answers).  A command therefore
reports success only after every process was told.

Bulk writes (``idnode import``, ``demo generate``) are published per
committed batch, the batch's stored handles in messages of at most
:data:`CHUNK` handles.  Not a "clear everything" message: the Redis copies of
the old records would survive it and be served back, a clear would throw
away every hot answer for a batch that touched a few handles, and only exact
keys get the tombstone that stops a fill in flight from putting an old
record back.  One pipelined round trip per chunk costs little next to the
batch's transaction.

When Redis cannot be reached the write stands (it is committed): one warning
line on stderr says the servers' caches catch up from the change feed, the
rest of the command does not try again, and the exit code is unchanged (0 on
success).  Without ``redis_url`` nothing is published: the servers read the
registry's change feed (:mod:`registry.changes`, :mod:`resolver.core.change_feed`)
and drop the changed handles within about a quarter of a second
(:data:`SERVERS_NOTE`, shown in the write commands' help).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from registry.config import NodeConfig

if TYPE_CHECKING:  # imported on the first write: commands that only read never load redis
    from resolver.core.redis_cache import RedisCache

CHUNK = 1000
"""Most handles per invalidation message (each handle is two cache keys)."""
TIMEOUT = 2.0
"""Seconds per Redis call; a command can wait longer than a server's hot path."""

SERVERS_NOTE = """running servers:
  with redis_url set, every serving process is told to drop the changed handles
  before this command reports success; with or without Redis, the serving
  processes also read the registry's change feed and drop the changed handles
  within about a quarter of a second"""

WARNING = ("idnode: warning: the change is stored, but Redis (redis_url) could not be reached "
           "to invalidate the servers' caches; they catch up from the registry's change feed")


class CacheInvalidation:
    """Publishes the handles of committed writes to every serving process of ``config``'s node."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.failed = False
        self._redis: RedisCache | None = None
        self._cache_log: tuple[logging.Logger, int] | None = None

    async def __call__(self, handles: Sequence[str]) -> None:
        """Invalidate ``handles`` everywhere; after a failure, warn once and stop trying."""
        from resolver.core.stack import invalidation_of

        if self.failed:
            return
        redis = self._connect()
        for start in range(0, len(handles), CHUNK):
            keys, prefixes = invalidation_of(handles[start : start + CHUNK])
            if not await redis.invalidate(keys, prefixes=prefixes):
                self.failed = True
                print(WARNING, file=sys.stderr)
                return

    def _connect(self) -> RedisCache:
        if self._redis is None:
            from resolver.core.redis_cache import RedisCache
            from resolver.core.redis_link import RedisLink
            from resolver.core.stack import redis_prefix_of

            # WARNING replaces the cache's own log line about the failure
            logger = logging.getLogger(RedisCache.__module__)
            self._cache_log = (logger, logger.level)
            logger.setLevel(logging.ERROR)
            self._redis = RedisCache(
                RedisLink.of(self.config), prefix=redis_prefix_of(self.config), timeout=TIMEOUT,
                wait_replicas=self.config.redis_wait_replicas,
            )
        return self._redis

    async def close(self) -> None:
        """Close the Redis connections, if any were opened."""
        if self._redis is not None:
            await self._redis.close()
            self._redis = None
        if self._cache_log is not None:
            logger, level = self._cache_log
            logger.setLevel(level)
            self._cache_log = None
