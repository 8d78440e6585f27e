"""The one place a node's resolution service is put together from its parts.

Like a CoreDNS plugin chain, a request to the service passes through parts in
an order decided here and nowhere else::

    ResolutionService   (names, suspension, read permissions, usage counting)
      -> LocalCache     (in-process LRU, in ResolutionStack)
      -> RedisCache     (shared by every worker, when ``redis_url`` is set)
      -> the store, or ReferralFinder (a delegated prefix answers with a referral)
      -> RecursiveResolver (recursive requests follow referrals, from the root)

Each part is built from the configuration and handed to the part that uses it;
nothing is changed on the service after it is built.  The front ends
(:mod:`resolver.node`) and the CLI get a finished service from here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from protocol.values import HandleValue
from registry.config import NodeConfig, parse_host_port
from registry.signing_policy import load_trust_anchor
from registry.store import HandleStore
from resolver.core.cache import Clock
from resolver.core.client import HandleClient
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.metrics import Metrics
from resolver.core.recursive import DEFAULT_HOP_TIMEOUT, RecursiveResolver
from resolver.core.redis_cache import RedisCache
from resolver.core.redis_link import RedisLink
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack, redis_prefix_of
from resolver.core.suspension import SuspendedPrefixes
from resolver.core.upstream import UpstreamPolicy
from resolver.core.usage import UsageCounter

log = logging.getLogger(__name__)


def build_stack(
    store: HandleStore,
    config: NodeConfig,
    *,
    metrics: Metrics | None = None,
    hop_timeout: float = DEFAULT_HOP_TIMEOUT,
    clock: Clock = time.time,
    client: HandleClient | None = None,
) -> ResolutionStack:
    """The cache tiers, referrals and recursion ``config`` asks for, listening for
    other processes' invalidations.

    Uses ``cache_size``, ``cache_bytes``, ``negative_cache_bytes``, ``negative_ttl``,
    ``stale_if_error``, ``redis_url``
    (keys under :func:`resolver.core.stack.redis_prefix_of`), ``root_address``
    (where recursive resolution starts; a root without it still follows its own
    referrals), ``upstream_allow`` and ``max_upstream_connections`` (where and how
    much recursion may connect, :mod:`resolver.core.upstream`).
    """
    redis = None
    if config.redis_url:
        redis = RedisCache(
            RedisLink.of(config),
            prefix=redis_prefix_of(config),
            wait_replicas=config.redis_wait_replicas,
            stale_window=config.stale_if_error,
            clock=clock,
        )
    root = parse_host_port(config.root_address, "root_address") if config.root_address else None
    policy = UpstreamPolicy(
        config.upstream_allow,
        trusted=[root] if root is not None else [],
        max_connections=config.max_upstream_connections,
    )
    recursor = RecursiveResolver(
        root, client=client, hop_timeout=hop_timeout, negative_ttl=config.negative_ttl,
        clock=clock, policy=policy,
    )
    stack = ResolutionStack(
        store,
        cache_size=config.cache_size,
        cache_bytes=config.cache_bytes,
        negative_cache_bytes=config.negative_cache_bytes,
        negative_ttl=config.negative_ttl,
        stale_if_error=config.stale_if_error,
        redis=redis,
        recursor=recursor,
        metrics=metrics,
        clock=clock,
    )
    stack.start()
    return stack


async def build_service(
    store: HandleStore,
    config: NodeConfig,
    *,
    site_info: HandleValue | None,
    server_admins: Sequence[tuple[str, int]] = (),
    limits: Limits = DEFAULT_LIMITS,
    metrics: Metrics | None = None,
    trust: bool = True,
    count_usage: bool = False,
    stack: ResolutionStack | None = None,
    hop_timeout: float = DEFAULT_HOP_TIMEOUT,
    clock: Clock = time.time,
    client: HandleClient | None = None,
) -> ResolutionService:
    """A ResolutionService over ``store`` with every part ``config`` asks for.

    ``trust`` loads the trust anchor (``trust_anchor_path``) verification on
    resolution checks signature chains up to (the store applies the write rules,
    signing included: :mod:`registry.write_rules`); ``count_usage`` gives the service a
    :class:`resolver.core.usage.UsageCounter` (the caller flushes it);
    ``suspended_resolution = "refuse"`` a refreshed
    :class:`resolver.core.suspension.SuspendedPrefixes`; ``stack`` is the
    :func:`build_stack` to answer from (built here when not given).  Close it
    with ``await service.close()``.
    """
    suspended = None
    if config.suspended_resolution == "refuse":
        suspended = SuspendedPrefixes()
        await suspended.refresh(store)
    anchor = load_trust_anchor(config) if trust else None
    answers = stack or build_stack(
        store, config, metrics=metrics, hop_timeout=hop_timeout, clock=clock, client=client
    )
    usage = UsageCounter(cache_counters=lambda: answers.counters) if count_usage else None
    return ResolutionService(
        store,
        site_info=site_info,
        server_admins=server_admins,
        limits=limits,
        answers=answers,
        trust_anchor=anchor,
        revocation_ttl=config.revocation_ttl,
        usage=usage,
        suspended=suspended,
    )
