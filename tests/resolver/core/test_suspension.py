"""``suspended_resolution``: a suspended enterprise's identifiers resolve, or look absent."""

from __future__ import annotations

from pathlib import Path

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.suspension import SuspendedPrefixes
from resolver.node import start_node
from tests.resolver.core.test_cache import url

TV = "88.118.8/TV-0001"


async def seed(store: HandleStore) -> None:
    await store.add_enterprise("HAIER", "Haier", industry="appliance")
    await store.create_prefix("88.118.8", owner="HAIER")
    await store.create_prefix("88.118.9")
    await store.replace_handle(TV, [url(1, "https://tv")], actor="t")
    await store.replace_handle("88.118.9/PUMP", [url(1, "https://pump")], actor="t")


async def test_refused_prefixes_follow_the_enterprise_status(database: HandleStore) -> None:
    await seed(database)
    suspended = SuspendedPrefixes()
    await suspended.refresh(database)
    assert not suspended.refuses(TV)
    await database.set_enterprise_status("HAIER", "suspended")
    await suspended.refresh(database)
    assert suspended.refuses(TV) and suspended.refuses("88.118.8.1/SUB")
    assert suspended.refuses("88.118.8/tv-0001")
    assert not suspended.refuses("88.118.9/PUMP") and not suspended.refuses("88.118.80/X")
    await database.set_enterprise_status("HAIER", "active")
    await suspended.refresh(database)
    assert not suspended.refuses(TV)


async def test_a_refusing_node_answers_not_found(tmp_path: Path) -> None:
    serving = NodeConfig(data_dir=tmp_path / "serve", handle_port=0, http_port=0)
    refusing = NodeConfig(data_dir=tmp_path / "refuse", handle_port=0, http_port=0,
                          suspended_resolution="refuse")
    for config in (serving, refusing):
        node = await start_node(config)
        try:
            await seed(node.store)
            await node.store.set_enterprise_status("HAIER", "suspended")
            if node.service.suspended is not None:
                await node.service.suspended.refresh(node.store)
            tv = await node.service.resolve(TV)
            pump = await node.service.resolve("88.118.9/PUMP")
        finally:
            await node.close()
        expected = RC_HANDLE_NOT_FOUND if config is refusing else RC_SUCCESS
        assert tv.response_code == expected
        assert pump.response_code == RC_SUCCESS
