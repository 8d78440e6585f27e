"""A running node: the store, the resolution service and every configured front end.

:func:`start_node` turns a :class:`registry.config.NodeConfig` into listening
servers (Handle TCP+UDP, HTTP, optionally DNS) sharing one ResolutionService,
so ``idnode serve``, the benchmarks and the end-to-end tests start a node the
same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import logging
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from protocol.key_types import HandlePrivateKey, handle_key_types_text
from protocol.site_info import SiteInfo
from registry.bootstrap import node_admin
from registry.config import NodeConfig
from registry.replicas import ReadReplicas
from registry.store import HandleStore
from registry.trust.keys import load_handle_signing_key
from registry.write_rules import WriteRules
from resolver.core.assembly import build_service, build_stack
from resolver.core.auth_sessions import (
    HANDLE,
    HTTP,
    AuthState,
    Challenges,
    DatabaseAuthState,
    MemoryAuthState,
    Sessions,
    auth_bounds,
)
from resolver.core.backlinks import receiver_from, sender_from
from resolver.core.change_feed import ChangeFollower
from resolver.core.limits import Limits
from resolver.core.metrics import Metrics
from resolver.core.ratelimit import RateLimiter
from resolver.core.root_finder import find_root_address
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.core.upper_report import send_periodically
from resolver.dns.bridge import DnsServer, run_dns_server
from resolver.dns.zone import SoaSettings, parse_nameservers
from resolver.handle.over_http import NativeHttpAnswerer
from resolver.handle.server import HandleServer, run_handle_server
from resolver.http.api import run_http_server
from resolver.http.auth import HTTP_OPEN_SESSION_SECONDS, HTTP_SESSION_SECONDS
from resolver.http.console.wiring import (
    console_for_http,
    console_settings,
    run_console_listener,
)
from resolver.http.guard import HttpGuard
from resolver.site_sync import sync_published_site

log = logging.getLogger("idnode.node")

@dataclass
class RunningNode:
    """Everything one node process runs; :meth:`close` stops it all."""

    config: NodeConfig
    store: HandleStore
    service: ResolutionService
    handle_server: HandleServer
    http_runner: web.AppRunner
    http_port: int
    dns_server: DnsServer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    console_runner: web.AppRunner | None = None
    console_port: int = 0

    @property
    def handle_port(self) -> int:
        """The bound Handle protocol port (TCP and UDP)."""
        return self.handle_server.port

    def describe(self) -> str:
        """One line saying what listens where."""
        hosts = ",".join(self.config.listen_hosts)
        dns = f"dns {hosts}:{self.dns_server.port}" if self.dns_server else "dns off"
        return (
            f"idnode {self.config.role} for {','.join(self.config.prefixes)}: "
            f"handle tcp+udp {hosts}:{self.handle_port}, "
            f"http http://{self.config.listen_hosts[0]}:{self.http_port}/, {dns}"
        )

    async def close(self) -> None:
        """Stop the front ends, then the store."""
        if self.dns_server is not None:
            self.dns_server.close()
        await self.handle_server.close()
        await self.http_runner.cleanup()
        if self.console_runner is not None:
            await self.console_runner.cleanup()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.service.usage is not None:
            await self.service.usage.flush(self.store)
        await self.service.close()
        await self.store.close()


def limits_from(config: NodeConfig) -> Limits:
    """The server limits a configuration asks for."""
    return Limits(
        max_message_size=config.max_message_size,
        max_handle_length=config.max_handle_length,
        max_tcp_connections=config.max_tcp_connections,
        max_connections_per_client=config.max_connections_per_client,
        max_udp_inflight=config.max_inflight_requests,
        idle_timeout=config.tcp_idle_timeout,
        read_timeout=config.request_read_timeout,
        udp_amplification_factor=config.udp_amplification_factor,
        udp_answer_floor=config.udp_answer_floor,
    )


def rate_limiter_from(config: NodeConfig) -> RateLimiter:
    """A per-client rate limiter with the configured settings: each front end gets
    its own (a flood on one front end spends no budget of another)."""
    return RateLimiter(
        config.rate_limit, config.rate_burst, max_clients=config.rate_limit_clients,
        slip=config.rate_limit_slip,
    )


def http_guard_from(config: NodeConfig) -> HttpGuard:
    """The HTTP front end's abuse limits a configuration asks for."""
    return HttpGuard(
        rate_limiter_from(config),
        config.request_read_timeout,
        config.max_inflight_requests,
        max_connections=config.max_http_connections,
        max_connections_per_client=config.max_connections_per_client,
        tls_handshake_timeout=config.tls_handshake_timeout,
    )


def nameservers_from(config: NodeConfig) -> dict[str, list[str]]:
    """The DNS zone's name servers and their addresses (default: ``ns`` at
    ``public_host`` when that is an IP address)."""
    if config.dns_nameservers:
        return parse_nameservers(config.dns_nameservers)
    try:
        return {"ns": [str(ipaddress.ip_address(config.public_host))]}
    except ValueError:
        return {"ns": []}


def load_server_key(config: NodeConfig) -> HandlePrivateKey | None:
    """The key certified responses are signed with, if the node has one."""
    path = config.path(config.server_key_path)
    if not path.is_file():
        log.warning("no server key at %s: certified requests are answered unsigned", path)
        return None
    key = load_handle_signing_key(path.read_bytes())
    if key is None:
        log.warning("server key %s is not %s: responses are not signed",
                    path, handle_key_types_text())
    return key


def _public_key_bytes(config: NodeConfig) -> bytes:
    path: Path = config.path(config.server_pubkey_path)
    return path.read_bytes() if path.is_file() else b""


async def start_node(
    config: NodeConfig,
    *,
    reuse_port: bool = False,
    primary: bool = True,
) -> RunningNode:
    """Open the store and start every front end the configuration enables.

    ``reuse_port`` lets several worker processes share the ports; the DNS
    front end (no SO_REUSEPORT) and the upward statistics report run only in
    the ``primary`` process;
    authentication challenges and sessions are kept where every process that
    serves the node sees them (:func:`auth_state_for`).
    Once listening, the primary process brings the node's published HS_SITE values
    to its configured address, ports and key (:mod:`resolver.site_sync`);
    :class:`ListenError` or :class:`resolver.site_sync.SiteMismatch` say why it
    could not start.
    """
    store = await HandleStore.open(
        config.effective_database_url, schema=config.database_schema or None, migrate=True,
        rules=WriteRules.from_config(config), read_urls=config.database_read_urls,
        read_max_lag=config.database_read_max_lag,
        read_check_seconds=config.database_read_check_seconds,
        pg_partitions=config.pg_partitions,
    )
    try:
        site = own_site(config)
        node = await _start_front_ends(config, store, site, reuse_port, primary)
    except BaseException:
        await store.close()
        raise
    try:
        # once the ports are ours; not for ephemeral ports (0), which no HS_SITE can name
        if primary and config.handle_port and config.http_port:
            await sync_published_site(node.store, site, config.prefixes,
                                      declared=bool(config.site_servers),
                                      mirrors=config.site_mirrors)
    except BaseException:
        await node.close()
        raise
    return node


def own_site(config: NodeConfig) -> SiteInfo:
    """The site this node publishes: its public address, ports and server key."""
    return build_site_info(
        config.site_addresses,
        public_key=_public_key_bytes(config),
        http_port=config.http_port,
        description=f"idnode {config.role} {','.join(config.prefixes)}",
    )


async def _start_front_ends(
    config: NodeConfig,
    store: HandleStore,
    site: SiteInfo,
    reuse_port: bool,
    primary: bool,
) -> RunningNode:
    limits = limits_from(config)
    metrics = Metrics()
    root_address = await find_root_address(config)
    resolving = dataclasses.replace(config, root_address=root_address)
    stack = build_stack(store, resolving, metrics=metrics)
    try:
        service = await build_service(
            store,
            resolving,
            site_info=site_info_value(site),
            server_admins=[node_admin(p) for p in config.prefixes],
            limits=limits,
            metrics=metrics,
            count_usage=True,
            stack=stack,
        )
    except BaseException:
        await stack.close()
        raise
    try:
        # other processes' writes reach this cache
        follower = ChangeFollower(store, stack)
        await follower.start()
        node = await _listen(config, service, limits, metrics, reuse_port, primary)
        node.tasks.append(asyncio.create_task(follower.run()))
        if store.replicas is not None:
            node.tasks.append(asyncio.create_task(store.replicas.run()))
            _replica_gauges(metrics, store.replicas)
        return node
    except BaseException:
        await service.close()
        raise


def _replica_gauges(metrics: Metrics, replicas: ReadReplicas) -> None:
    """Expose the read replicas' health (:mod:`registry.replicas`) in the metrics."""
    metrics.add_gauge("idnode_db_replicas", "Read replicas configured.",
                      lambda: len(replicas.replicas))
    metrics.add_gauge("idnode_db_replicas_in_use", "Read replicas taking reads now.",
                      replicas.in_use)
    metrics.add_gauge("idnode_db_replica_lag_seconds",
                      "Largest lag of a reachable read replica at the last check.",
                      replicas.max_lag_seen)
    metrics.add_gauge("idnode_db_replica_reads", "Resolution reads answered by replicas.",
                      lambda: sum(r.reads for r in replicas.replicas))


async def _listen(
    config: NodeConfig,
    service: ResolutionService,
    limits: Limits,
    metrics: Metrics,
    reuse_port: bool,
    primary: bool,
) -> RunningNode:
    console = console_settings(config, service, metrics)  # first: it may refuse to start
    state = auth_state_for(config, service.store, limits)
    with _binding("Handle protocol (TCP+UDP)", "handle_port", config.listen_hosts,
                  config.handle_port):
        handle_server = await run_handle_server(
            service,
            config.listen_hosts,
            config.handle_port,
            limits=limits,
            private_key=load_server_key(config),
            reuse_port=reuse_port,
            udp_workers=config.workers,
            rate_limiter=rate_limiter_from(config),
            recursion_allow=config.recursion_allow,
            udp_segmentation=config.udp_segmentation,
            challenges=Challenges(state, limits.challenge_lifetime),
            sessions=Sessions(state, HANDLE, lifetime=limits.session_lifetime),
            metrics=metrics,
        )
    runner: web.AppRunner | None = None
    console_runner: web.AppRunner | None = None
    try:
        with _binding("HTTP", "http_port", config.listen_hosts[:1], config.http_port):
            runner, http_port = await run_http_server(
                service,
                config.listen_hosts[0],
                config.http_port,
                reuse_port=reuse_port,
                ssl_context=_tls_context(config),
                metrics=metrics,
                allow_insecure_auth=config.http_insecure_auth,
                sessions=Sessions(state, HTTP, lifetime=HTTP_SESSION_SECONDS,
                                  open_lifetime=HTTP_OPEN_SESSION_SECONDS),
                guard=http_guard_from(config),
                native=NativeHttpAnswerer(handle_server.processor),
                public_url=config.public_http_url,
                console=console_for_http(console) if config.console else None,
                backlinks=receiver_from(service, config),
            )
        console_port = 0
        if config.console_port:
            with _binding("console", "console_port", config.listen_hosts[:1],
                          config.console_port):
                console_runner, console_port = await run_console_listener(
                    console, config.listen_hosts[0], config.console_port, reuse_port=reuse_port)
        dns_server = None
        if config.dns_port and primary:
            with _binding("DNS (UDP+TCP)", "dns_port", config.listen_hosts[:1], config.dns_port):
                dns_server = await run_dns_server(
                    service, zone=config.dns_zone, host=config.listen_hosts[0],
                    port=config.dns_port, limits=limits, rate_limiter=rate_limiter_from(config),
                    identifiers=service.store.handle_by_identifier,
                    nameservers=nameservers_from(config),
                    soa=SoaSettings(rname=config.dns_hostmaster, minimum=config.negative_ttl),
                )
    except BaseException:
        await handle_server.close()
        for started in (runner, console_runner):
            if started is not None:
                with contextlib.suppress(Exception):
                    await started.cleanup()
        raise
    tasks: list[asyncio.Task[None]] = []
    if service.usage is not None:
        usage = service.usage.run(service.store, config.stats_flush_seconds)
        tasks.append(asyncio.create_task(usage))
    if service.suspended is not None:
        tasks.append(asyncio.create_task(service.suspended.run(service.store)))
    sender = sender_from(service, config) if primary and config.backlinks_interval else None
    if sender is not None:
        tasks.append(asyncio.create_task(sender.run(config.backlinks_interval)))
    if config.upper_report_url and primary:
        tasks.append(asyncio.create_task(send_periodically(
            service.store, config.prefixes[0], config.upper_report_url, config.upper_report_hours
        )))
    return RunningNode(config, service.store, service, handle_server, runner, http_port,
                       dns_server, tasks, console_runner, console_port)


class ListenError(Exception):
    """A front end could not listen on its configured address; the message says which."""


@contextlib.contextmanager
def _binding(front_end: str, key: str, hosts: Sequence[str], port: int) -> Iterator[None]:
    """Turn a failed bind into a :class:`ListenError` naming the front end, port and key."""
    try:
        yield
    except OSError as exc:
        where = f"{','.join(hosts)} port {port}"
        option = f"--{key.replace('_', '-')} or {key} in idnode.toml"
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"{front_end} port {port} is already in use on {','.join(hosts)} "
                              f"(another idnode or program); choose another with {option}"
                              ) from None
        reason = exc.strerror or str(exc)
        raise ListenError(f"cannot listen for {front_end} on {where}: {reason}; "
                          f"check listen_hosts, or choose another port with {option}") from None


def _tls_context(config: NodeConfig) -> ssl.SSLContext | None:
    """HTTPS when a certificate and key are configured."""
    if not str(config.http_tls_cert) or str(config.http_tls_cert) == ".":
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.path(config.http_tls_cert), config.path(config.http_tls_key))
    return context


def auth_state_for(config: NodeConfig, store: HandleStore, limits: Limits) -> AuthState:
    """Where the node keeps authentication challenges and sessions: in the registry
    database when it is more than one process (``workers``) or one of several hosts
    (``site_servers`` names more than one, or they share a Redis), so the answer to
    a challenge or the next request of a session may reach any of them; else in
    this process."""
    bounds = auth_bounds(limits.max_pending_challenges, limits.max_sessions)
    if config.workers > 1 or len(config.site_servers) > 1 or config.redis_url:
        return DatabaseAuthState(store, bounds)
    return MemoryAuthState(bounds)
