"""Recursive resolution over real Handle servers on loopback: root -> secondary -> enterprise.

Three in-process nodes, each with its own SQLite store, resolution stack and
Handle server on an ephemeral port:

* root (``--role root``, prefix 88): holds ``0.NA/88.118`` -> the node;
* node (prefix 88.118): hosts 88.118.8 (``88.118.8/TV-0001``), delegates
  88.118.9 -> the enterprise;
* enterprise (another idnode, prefix 88.118.9): hosts ``88.118.9/PUMP-1``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from protocol.constants import (
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_RECURSION_COUNT_TOO_HIGH,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
)
from protocol.values import HandleValue
from registry.bootstrap import delegate_prefix
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.assembly import build_service
from resolver.core.client import HandleClient, HandleClientError
from resolver.core.model import ServiceError
from resolver.core.recursive import RecursiveResolver, SiteCache
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.core.test_cache import FakeClock, url

TV = "88.118.8/TV-0001"
PUMP = "88.118.9/PUMP-1"


@dataclass
class Node:
    """One running node: store, service, Handle server."""

    store: HandleStore
    service: ResolutionService
    server: HandleServer

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.server.port

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def site(self) -> HandleValue:
        return site_info_value(build_site_info([self.address]))

    async def close(self) -> None:
        await self.server.close()
        await self.service.close()
        await self.store.close()


@dataclass
class World:
    """The three nodes and the clock their caches share."""

    root: Node
    node: Node
    enterprise: Node
    clock: FakeClock
    folder: Path
    extra: list[Node] = field(default_factory=list)

    async def start(self, name: str, prefix: str, *, role: str = "node") -> Node:
        """One more node (not yet in any referral) whose recursion starts at the root."""
        found = await start_node(self.folder, name, prefix, role, self.root.name, self.clock)
        self.extra.append(found)
        return found


async def start_node(
    folder: Path, name: str, prefix: str, role: str, root: str, clock: FakeClock
) -> Node:
    store = await HandleStore.open(f"sqlite:///{folder / name}.db")
    config = NodeConfig(
        role=role, prefixes=(prefix,), root_address=root, negative_ttl=30, stale_if_error=600,
        upstream_allow=("127.0.0.0/8",),  # every node of the test world is on loopback
    )
    service = await build_service(
        store, config, site_info=None, hop_timeout=2.0, clock=clock,
        server_admins=[(f"0.NA/{prefix}", 300)],
    )
    server = await run_handle_server(service, "127.0.0.1", 0)
    return Node(store, service, server)


async def put(node: Node, handle: str, values: list[HandleValue]) -> None:
    await node.store.replace_handle(handle, values, actor="test")


@contextlib.asynccontextmanager
async def running_world(tmp_path: Path) -> AsyncIterator[World]:
    """Start the three nodes with their data; stop them afterwards."""
    clock = FakeClock()
    root = await start_node(tmp_path, "root", "88", "root", "", clock)
    root_name = root.name
    node = await start_node(tmp_path, "node", "88.118", "node", root_name, clock)
    enterprise = await start_node(tmp_path, "enterprise", "88.118.9", "node", root_name, clock)
    await root.store.create_prefix("88")
    await put(root, "0.NA/88", [root.site()])
    await put(root, "0.NA/88.118", [node.site()])
    await node.store.create_prefix("88.118")
    await node.store.create_prefix("88.118.8")
    await put(node, "0.NA/88.118", [node.site()])
    await put(node, "0.NA/88.118.8", [node.site()])
    await put(node, TV, [url(1, "https://tv.example/1")])
    await delegate_prefix(node.store, "88.118.9", enterprise.site(), node_prefix="88.118",
                          owner=None, actor="test")
    await enterprise.store.create_prefix("88.118.9")
    await put(enterprise, "0.NA/88.118.9", [enterprise.site()])
    await put(enterprise, PUMP, [url(1, "https://pump.example/1")])
    found = World(root, node, enterprise, clock, tmp_path)
    yield found
    for one in (*found.extra, enterprise, node, root):
        with contextlib.suppress(Exception):
            await one.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as started:
        yield started


async def test_the_root_walks_to_the_enterprise(world: World) -> None:
    res = await world.root.service.resolve(PUMP, recursive=True)
    assert res.response_code == RC_SUCCESS
    assert res.values[0].data == b"https://pump.example/1"
    assert res.source == world.enterprise.name
    assert res.chain == (
        f"{PUMP}@local", f"{PUMP}@{world.node.name}", f"{PUMP}@{world.enterprise.name}"
    )


async def test_the_node_follows_its_own_delegation(world: World) -> None:
    res = await world.node.service.resolve(PUMP, recursive=True)
    assert res.response_code == RC_SUCCESS and res.source == world.enterprise.name
    assert res.chain == (f"{PUMP}@local", f"{PUMP}@{world.enterprise.name}")
    hosted = await world.node.service.resolve(TV, recursive=True)
    assert hosted.source == "local" and hosted.values[0].data == b"https://tv.example/1"
    missing = await world.node.service.resolve("88.118.9/NOPE", recursive=True)
    assert missing.response_code == RC_HANDLE_NOT_FOUND
    assert missing.source == world.enterprise.name


async def test_a_stranger_starts_at_the_root_with_the_prefix_handle(world: World) -> None:
    stranger = await world.start("stranger", "99")
    res = await stranger.service.resolve(PUMP, recursive=True)
    assert res.response_code == RC_SUCCESS and res.source == world.enterprise.name
    assert res.chain == (
        f"0.NA/88.118.9@{world.root.name}",
        f"0.NA/88.118.9@{world.node.name}",
        f"{PUMP}@{world.enterprise.name}",
    )
    hosted = await stranger.service.resolve(TV, recursive=True)
    assert hosted.source == world.node.name
    missing = await stranger.service.resolve("88.118.8/NOPE", recursive=True)
    assert missing.response_code == RC_HANDLE_NOT_FOUND
    unknown = await stranger.service.resolve("77.1/X", recursive=True)
    assert unknown.response_code == RC_HANDLE_NOT_FOUND


async def test_recursive_handle_requests_get_the_final_answer(world: World) -> None:
    client = HandleClient(timeout=2.0)
    final = await client.resolve(PUMP, server=world.root.address)
    assert final.response_code == RC_SUCCESS and final.values[0].data == b"https://pump.example/1"
    referred = await client.resolve(PUMP, server=world.root.address, recursive=False)
    assert referred.response_code == RC_SERVICE_REFERRAL
    assert [v.data for v in referred.referral_values] == [world.node.site().data]


async def test_an_authoritative_request_is_answered_afresh_not_from_the_cache(
    world: World,
) -> None:
    """The AT flag on a recursive request (what ``idnode cert fetch`` and ``resolve --verify
    --fresh`` send) gets the record as its authority, two referrals away, holds it now, not
    the copy the root cached; the plain request keeps being served from the cache until then."""
    client = HandleClient(timeout=2.0)
    assert (await client.resolve(PUMP, server=world.root.address)).values[0].data == (
        b"https://pump.example/1")
    await rewrite(world.enterprise, PUMP, "https://pump.example/new")
    for _ in range(2):  # the second is the kind of request the UDP fast path replays
        cached = await client.resolve(PUMP, server=world.root.address)
        assert cached.values[0].data == b"https://pump.example/1"
    for text in ("https://pump.example/new", "https://pump.example/newer"):
        await rewrite(world.enterprise, PUMP, text)
        fresh = await client.resolve(PUMP, server=world.root.address, authoritative=True)
        assert fresh.response_code == RC_SUCCESS and fresh.values[0].data == text.encode()
    after = await client.resolve(PUMP, server=world.root.address)
    assert after.values[0].data == b"https://pump.example/newer"  # the refreshed copy, cached


async def rewrite(node: Node, handle: str, text: str) -> None:
    """Change ``handle`` at ``node`` as a write there does: stored, and dropped from the
    node's own cache (a serving node reads its change feed)."""
    await put(node, handle, [url(1, text)])
    assert node.service.answers is not None
    await node.service.answers.invalidate([handle])


async def test_a_referral_loop_ends_with_a_clear_error(world: World) -> None:
    # the node refers 88.118.7 to the enterprise, which refers it back to the node
    for here, there in ((world.node, world.enterprise), (world.enterprise, world.node)):
        await delegate_prefix(here.store, "88.118.7", there.site(), node_prefix="88.118",
                              owner=None, actor="test")
    with pytest.raises(ServiceError) as info:
        await world.node.service.resolve("88.118.7/X", recursive=True)
    assert info.value.response_code == RC_RECURSION_COUNT_TOO_HIGH
    assert "referral loop" in info.value.message and "88.118.7/X" in info.value.message
    with pytest.raises(HandleClientError) as wire:
        await HandleClient(timeout=2.0).resolve("88.118.7/X", server=world.node.address)
    assert wire.value.response_code == RC_RECURSION_COUNT_TOO_HIGH
    assert "referral loop" in wire.value.message


async def test_the_recursion_limit_counts_every_request(world: World) -> None:
    resolver = RecursiveResolver(world.root.address, max_hops=2, hop_timeout=2.0)
    with pytest.raises(ServiceError) as info:
        await resolver.from_root(PUMP)  # root + node for the prefix, then the enterprise
    assert info.value.response_code == RC_RECURSION_COUNT_TOO_HIGH
    assert "more than 2 requests" in info.value.message


async def test_a_stale_answer_is_served_while_the_root_is_down(world: World) -> None:
    stranger = await world.start("stranger", "99")
    assert (await stranger.service.resolve(PUMP, recursive=True)).stale is False
    await world.root.server.close()
    world.clock.now += 101  # the answer's TTL (100 s) is over, the stale window (600 s) is not
    stale = await stranger.service.resolve(PUMP, recursive=True)
    assert stale.response_code == RC_SUCCESS and stale.stale
    assert stale.values[0].data == b"https://pump.example/1"
    world.clock.now += 600
    with pytest.raises(ServiceError) as info:
        await stranger.service.resolve(PUMP, recursive=True)
    assert info.value.response_code == RC_ERROR


def test_the_site_cache_keeps_the_newest_serial_of_a_site() -> None:
    def site(serial: int, port: int = 2641) -> bytes:
        return site_info_value(build_site_info([("127.0.0.1", port)], serial_number=serial)).data

    cache = SiteCache()
    assert cache.site(site(3)).serial_number == 3
    assert cache.site(site(2)).serial_number == 3  # an older copy of the same site
    assert cache.site(site(4)).serial_number == 4
    assert cache.site(site(1, port=2642)).serial_number == 1  # another site
