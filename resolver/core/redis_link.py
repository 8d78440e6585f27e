"""How a node reaches its Redis: one server at ``redis_url``, or the master that
Redis Sentinel names.

With ``redis_sentinels`` (``HOST:PORT`` of each sentinel) and
``redis_master_name`` the client asks the sentinels for the current master
on every new connection (redis-py's :class:`redis.asyncio.sentinel.Sentinel`),
so after a failover the next connection goes to the promoted replica;
``redis_url`` then only gives the database number and credentials (its host
is not used).  Every Redis client of a node (answer cache, invalidation,
REST and console sessions) is made here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel
from redis.connection import parse_url

from registry.config import NodeConfig, parse_host_port

SENTINEL_TIMEOUT = 0.5
"""Seconds to wait for one sentinel's answer about the master."""


@dataclass(frozen=True, slots=True)
class RedisLink:
    """Where Redis is: ``url``, or the master ``master_name`` of ``sentinels``."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str = ""

    @classmethod
    def of(cls, config: NodeConfig) -> RedisLink:
        """The Redis of ``config`` (``redis_url``, ``redis_sentinels``, ``redis_master_name``)."""
        return cls.parse(config.redis_url, config.redis_sentinels, config.redis_master_name)

    @classmethod
    def parse(cls, url: str, sentinels: Sequence[str] = (), master_name: str = "") -> RedisLink:
        """A link from settings' text; sentinels are ``HOST:PORT`` (port 26379 by default)."""
        return cls(url, tuple(parse_host_port(s, "redis_sentinels", 26379) for s in sentinels),
                   master_name)

    def client(self, **options: Any) -> aioredis.Redis:
        """A new client with ``options`` (socket timeouts, retry, health checks...)."""
        if not self.sentinels:
            return aioredis.Redis.from_url(self.url, **options)
        settings = {k: v for k, v in parse_url(self.url).items()
                    if k in ("db", "username", "password")} if self.url else {}
        sentinel = Sentinel(
            list(self.sentinels), socket_timeout=SENTINEL_TIMEOUT,
            sentinel_kwargs={"socket_timeout": SENTINEL_TIMEOUT,
                             "socket_connect_timeout": SENTINEL_TIMEOUT},
        )
        return sentinel.master_for(self.master_name, **settings, **options)

    def describe(self) -> str:
        """Where the link points, without credentials (for status output)."""
        if not self.sentinels:
            return self.url
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"sentinel {hosts} master {self.master_name}"
