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
those servers, in that order, is rewritten to them.  With ``site_mirrors``
each server is also published as a secondary site of its own (HS_SITE at
indexes :data:`MIRROR_INDEX` on): CNRI's resolver never tries another
server of the same site when the one the hash names is down, it tries the
next site, so these mirror sites are what its requests fail over to.  Hosts starting at once
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
from protocol.values import HandleValue
from registry.bootstrap import SITE_INDEX
from registry.errors import ConcurrentModification
from registry.names import prefix_handle
from registry.store import HandleStore

log = logging.getLogger("idnode.site")

ACTOR = "serve:site-sync"
MIRROR_INDEX = 2
"""Index of the first mirror site (``site_mirrors``): one HS_SITE per server from here."""


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
    store: HandleStore,
    site: SiteInfo,
    node_prefixes: Sequence[str],
    *,
    declared: bool = False,
    mirrors: bool = False,
) -> list[str]:
    """Bring every published HS_SITE of this node to ``site``; the handles rewritten.

    Without ``declared``, ``site`` is this one server, and a hand-made site of
    several servers that does not list it is :class:`SiteMismatch`; with
    ``declared`` (``site_servers``) ``site`` is the whole site and replaces any
    other; ``mirrors`` (``site_mirrors``) also publishes each of its servers as
    a secondary site of its own (see the module doc)."""
    wanted = {SITE_INDEX: site}
    if declared and mirrors:
        wanted |= {MIRROR_INDEX + i: one for i, one in enumerate(mirror_sites(site))}
    changed: list[str] = []
    for prefix in await _owned_prefixes(store, node_prefixes):
        for _attempt in range(3):
            try:
                if await _sync_one(store, prefix_handle(prefix), wanted, declared):
                    changed.append(prefix_handle(prefix))
                break
            except ConcurrentModification:  # another host of the site rewrote it: look again
                continue
    return changed


def mirror_sites(site: SiteInfo) -> list[SiteInfo]:
    """Each server of ``site`` as a secondary site of one server (same hashing)."""
    return [
        dataclasses.replace(site, servers=(dataclasses.replace(server, server_id=1),),
                            is_primary=False, multi_primary=False)
        for server in site.servers
    ]


def _published(value: HandleValue | None) -> SiteInfo:
    if value is None or value.type != "HS_SITE":
        return SiteInfo()
    try:
        return decode_site_info(value.data)
    except ProtocolError:
        return SiteInfo()


def _same_site(a: SiteInfo, b: SiteInfo) -> bool:
    return (a.is_primary, len(a.servers)) == (b.is_primary, len(b.servers)) and all(
        _same_server(x, y) for x, y in zip(a.servers, b.servers, strict=True))


async def _sync_one(
    store: HandleStore, handle: str, wanted: dict[int, SiteInfo], declared: bool
) -> bool:
    """Rewrite the HS_SITE values of ``handle`` to ``wanted`` (by index) if needed;
    whether it was."""
    record = await store.get_handle(handle)
    if record is None:
        return False
    by_index = {v.index: v for v in record.values}
    value = by_index.get(SITE_INDEX)
    if value is None or value.type != "HS_SITE":
        return False
    published = _published(value)
    site = wanted[SITE_INDEX]
    if not declared:
        (mine,) = site.servers
        if any(_same_server(server, mine) for server in published.servers):
            return False
        if len(published.servers) > 1:
            raise SiteMismatch(
                f"the HS_SITE of {handle} lists {len(published.servers)} servers and none is "
                f"this one ({_where(mine)}, this server key): add it there, set "
                f"public_host/handle_port/http_port to one of them, or list the site's "
                f"servers in site_servers")
    for index in wanted:
        held = by_index.get(index)
        if held is not None and held.type != "HS_SITE":
            raise SiteMismatch(f"index {index} of {handle} holds {held.type}: site_mirrors "
                               f"publishes the site's servers at indexes {MIRROR_INDEX} on")
    stale = {index: one for index, one in wanted.items()
             if not _same_site(_published(by_index.get(index)), one)}
    if not stale:
        return False
    for index, one in stale.items():
        old = _published(by_index.get(index))
        fresh = dataclasses.replace(one, serial_number=old.serial_number + 1)
        by_index[index] = dataclasses.replace(value, index=index, data=encode_site_info(fresh))
    values = [by_index[i] for i in sorted(by_index)]
    await store.replace_handle(handle, values, actor=ACTOR, expected_version=record.version)
    log.warning("HS_SITE of %s updated to %s (was %s)", handle,
                ", ".join(_where(s) for s in site.servers),
                ", ".join(_where(s) for s in published.servers) or "no server")
    return True
