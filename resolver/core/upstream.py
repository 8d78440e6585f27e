"""Where recursion may connect, and how many connections one client request may cost.

Referrals come from data: a tenant writes an HS_SITE on a sub-prefix's handle
and an anonymous REST, page or trace request then makes the node connect to
whatever host and port it names (issue 18 F8).  :class:`UpstreamPolicy` is
asked before every upstream connection the recursive resolver opens
(:class:`resolver.core.client.HandleClient`'s ``gate``):

* the address must be a public (globally routable) unicast address, or lie in
  one of the operator's ``upstream_allow`` networks (a node that reaches its
  root and enterprises over a private network or, in tests, loopback); the
  configured root (``root_address``, that host and port only) is always
  allowed.  A refused address is skipped like an unreachable server, without
  any packet sent.
* each client request (one resolution, or a whole trace) may open at most
  ``max_connections`` upstream connections (:func:`upstream_budget`); past
  that, every further attempt fails at once with :class:`FanOutExceeded`.

A handle whose name carries control characters (CR, LF...) is never sent
upstream (:func:`check_upstream_name`): a server at the other end that is not
a Handle server must not receive lines a client wrote.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from protocol.constants import RC_ERROR, RC_INVALID_HANDLE
from resolver.core.client import HandleClientError
from resolver.core.model import ServiceError

DEFAULT_MAX_CONNECTIONS = 32
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(OSError):
    """The policy does not let the node connect to this address (skipped like a dead server)."""


class FanOutExceeded(HandleClientError):
    """The request has opened as many upstream connections as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(RC_ERROR, f"more than {limit} upstream connections for one request")
        self.limit = limit


@dataclass
class _Budget:
    limit: int
    used: int = 0


_budget: ContextVar[_Budget | None] = ContextVar("idnode_upstream_budget", default=None)


@contextlib.contextmanager
def upstream_budget(max_connections: int) -> Iterator[None]:
    """Count the upstream connections made inside against ``max_connections``; an outer
    budget (a trace around its resolutions) takes precedence over an inner one.
    Tasks started inside share the budget (they copy the context)."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget(max_connections))
    try:
        yield
    finally:
        _budget.reset(token)


def parse_networks(items: Iterable[str], key: str = "upstream_allow") -> tuple[Network, ...]:
    """CIDR networks (a bare address is its /32 or /128); ValueError naming ``key``."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{key}: {item!r} is not an address or network: {exc}") from exc
    return tuple(networks)


def in_networks(host: str, networks: Iterable[Network]) -> bool:
    """Whether the address ``host`` lies in one of ``networks`` (False for a non-address)."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class UpstreamPolicy:
    """Which upstream addresses recursion may connect to (see the module docstring)."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        *,
        trusted: Iterable[tuple[str, int]] = (),
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.allow = parse_networks(allow)
        self.trusted = frozenset(trusted)
        self.max_connections = max_connections

    def permits(self, host: str, port: int | None = None) -> bool:
        """Whether the node may connect to ``host`` (at ``port``: a trusted
        (host, port) pair such as the root is allowed whatever its address)."""
        if (host, port) in self.trusted or in_networks(host, self.allow):
            return True
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False  # names are resolved by nobody but the operator's root_address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_global and not address.is_multicast

    def gate(self, host: str, port: int) -> None:
        """Called before each upstream connection: raise to prevent it."""
        if not self.permits(host, port):
            raise AddressRefused(f"upstream address not allowed: {host}")
        budget = _budget.get()
        if budget is not None:
            if budget.used >= budget.limit:
                raise FanOutExceeded(budget.limit)
            budget.used += 1


def check_upstream_name(handle: str) -> None:
    """Refuse a handle with control characters before it is sent anywhere."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in handle):
        raise ServiceError(
            RC_INVALID_HANDLE, f"handle {handle!r} has control characters: not sent upstream"
        )
