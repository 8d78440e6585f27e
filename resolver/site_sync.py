"""Keeping the node's published HS_SITE in step with the ports and key it serves with.

``idnode init`` writes this node's HS_SITE (address, Handle and HTTP ports,
server public key) into its prefix handle ``0.NA/<node prefix>`` and into
the prefix handle of every enterprise it hosts.  An operator who later
changes ``handle_port``, ``http_port`` or ``public_host`` (a second node on
the same machine) would otherwise publish a site that points at the old
ports, and resolvers sent there would reach nothing, or another node.

:func:`sync_published_site` runs when ``idnode serve`` starts (primary
process).  For each of those handles whose HS_SITE does not list this server
as configured:

- a site of one server (what ``init`` writes) is rewritten to this server,
  serial number plus one so clients holding the old site notice; the change
  is logged, one line per handle;
- a site of several servers none of which is this one was written by hand
  (scale-out over hosts): it is not guessed at, and :class:`SiteMismatch`
  says which handle and what this server is, so ``serve`` refuses to start
  with one line.

A node configured with ``site_servers`` (several hosts, one registry)
declares its whole site: every published HS_SITE that does not list exactly
those servers, in that order, is rewritten to them.  Hosts starting at once
may rewrite the same handle: the loser of the version check reads it again.

Delegated prefixes carry their enterprise's own site and are not touched.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from protocol.constants import SP_HDL_HTTP, SP_HDL_TCP
from protocol.errors import ProtocolError
from protocol.site_info import ServerInfo, SiteInfo, decode_site_info, encode_site_info
from registry.bootstrap import SITE_INDEX
from registry.errors import ConcurrentModification
from registry.names import prefix_handle
from registry.store import HandleStore

log = logging.getLogger("idnode.site")

ACTOR = "serve:site-sync"


class SiteMismatch(Exception):
    """A published HS_SITE lists other servers only; the message names the handle."""


def _same_server(a: ServerInfo, b: ServerInfo) -> bool:
    return (a.address, a.public_key, a.interfaces) == (b.address, b.public_key, b.interfaces)


def _where(server: ServerInfo) -> str:
    """``127.0.0.1:2641 (http 8000)``."""
    handle = server.interface(SP_HDL_TCP, query=False)
    http = server.interface(SP_HDL_HTTP, query=False)
    text = f"{server.ip}:{handle.port if handle else '-'}"
    return text + (f" (http {http.port})" if http else "")


async def _owned_prefixes(store: HandleStore, node_prefixes: Sequence[str]) -> list[str]:
    """The node's prefixes, then every hosted prefix (those served from this registry)."""
    hosted = [p.name for p in await store.list_prefixes(kind="hosted")]
    return list(dict.fromkeys([*node_prefixes, *hosted]))


async def sync_published_site(
    store: HandleStore, site: SiteInfo, node_prefixes: Sequence[str], *, declared: bool = False
) -> list[str]:
    """Bring every published HS_SITE of this node to ``site``; the handles rewritten.

    Without ``declared``, ``site`` is this one server, and a hand-made site of
    several servers that does not list it is :class:`SiteMismatch`; with
    ``declared`` (``site_servers``) ``site`` is the whole site and replaces any
    other."""
    changed: list[str] = []
    for prefix in await _owned_prefixes(store, node_prefixes):
        for _attempt in range(3):
            try:
                if await _sync_one(store, prefix_handle(prefix), site, declared):
                    changed.append(prefix_handle(prefix))
                break
            except ConcurrentModification:  # another host of the site rewrote it: look again
                continue
    return changed


async def _sync_one(store: HandleStore, handle: str, site: SiteInfo, declared: bool) -> bool:
    """Rewrite the HS_SITE of ``handle`` to ``site`` if needed; whether it was."""
    record = await store.get_handle(handle)
    if record is None:
        return False
    value = next((v for v in record.values if v.index == SITE_INDEX
                  and v.type == "HS_SITE"), None)
    if value is None:
        return False
    try:
        published = decode_site_info(value.data)
    except ProtocolError:
        published = SiteInfo()
    if declared:
        if len(published.servers) == len(site.servers) and all(
            _same_server(a, b) for a, b in zip(published.servers, site.servers, strict=True)
        ):
            return False
    else:
        (mine,) = site.servers
        if any(_same_server(server, mine) for server in published.servers):
            return False
        if len(published.servers) > 1:
            raise SiteMismatch(
                f"the HS_SITE of {handle} lists {len(published.servers)} servers and none is "
                f"this one ({_where(mine)}, this server key): add it there, set "
                f"public_host/handle_port/http_port to one of them, or list the site's "
                f"servers in site_servers")
    fresh = dataclasses.replace(site, serial_number=published.serial_number + 1)
    new_value = dataclasses.replace(value, data=encode_site_info(fresh))
    values = [new_value if v.index == SITE_INDEX else v for v in record.values]
    await store.replace_handle(handle, values, actor=ACTOR, expected_version=record.version)
    old = ", ".join(_where(s) for s in published.servers) or "no server"
    log.warning("HS_SITE of %s updated to %s (was %s)", handle,
                ", ".join(_where(s) for s in site.servers), old)
    return True
