"""resolver.site_sync: the node's published HS_SITE values follow its configured ports."""

from __future__ import annotations

import pytest

from protocol.site_info import decode_site_info
from protocol.values import HandleValue
from registry.bootstrap import SITE_INDEX
from registry.store import HandleStore
from resolver.core.site import build_site_info, site_info_value
from resolver.site_sync import SiteMismatch, sync_published_site

KEY = b"server-key"


def site_at(*ports: int, key: bytes = KEY) -> bytes:
    return site_info_value(build_site_info([("127.0.0.1", p) for p in ports],
                                           public_key=key, http_port=8000)).data


async def publish(store: HandleStore, prefix: str, data: bytes, kind: str = "hosted") -> None:
    await store.create_prefix(prefix, kind=kind)
    await store.create_handle(f"0.NA/{prefix}", [
        HandleValue(SITE_INDEX, "HS_SITE", data), HandleValue(2, "URL", b"https://kept.example"),
    ], actor="test")


async def ports_of(store: HandleStore, prefix: str) -> tuple[int, list[int]]:
    record = await store.get_handle(f"0.NA/{prefix}")
    assert record is not None
    site = decode_site_info(next(v for v in record.values if v.type == "HS_SITE").data)
    return site.serial_number, [s.interfaces[0].port for s in site.servers]


async def test_one_server_sites_follow_the_new_port_others_are_left(
    database: HandleStore,
) -> None:
    await publish(database, "88.118", site_at(2641))
    await publish(database, "88.118.8", site_at(2641))
    await publish(database, "88.118.9", site_at(2641, key=b"theirs"), kind="delegated")
    site = build_site_info([("127.0.0.1", 2642)], public_key=KEY, http_port=8000)
    changed = await sync_published_site(database, site, ["88.118"])
    assert changed == ["0.NA/88.118", "0.NA/88.118.8"]
    assert await ports_of(database, "88.118") == (2, [2642])
    assert await ports_of(database, "88.118.8") == (2, [2642])
    assert await ports_of(database, "88.118.9") == (1, [2641])  # delegated: theirs
    record = await database.get_handle("0.NA/88.118")
    assert record is not None and any(v.data == b"https://kept.example" for v in record.values)
    assert await sync_published_site(database, site, ["88.118"]) == []  # in step now


async def test_a_hand_made_site_without_this_server_refuses(database: HandleStore) -> None:
    await publish(database, "88.118", site_at(2641, 2651))
    site = build_site_info([("127.0.0.1", 2642)], public_key=KEY, http_port=8000)
    with pytest.raises(SiteMismatch, match=r"HS_SITE of 0\.NA/88\.118 lists 2 servers"):
        await sync_published_site(database, site, ["88.118"])
    assert await ports_of(database, "88.118") == (1, [2641, 2651])
    listed = build_site_info([("127.0.0.1", 2651)], public_key=KEY, http_port=8000)
    assert await sync_published_site(database, listed, ["88.118"]) == []  # it is one of them


async def test_a_declared_site_of_several_servers_replaces_any_other(
    database: HandleStore,
) -> None:
    await publish(database, "88.118", site_at(2641))
    await publish(database, "88.118.8", site_at(2641, 2651, 2661))
    declared = build_site_info([("127.0.0.1", 2641), ("127.0.0.1", 2651)], public_key=KEY,
                               http_port=8000)
    changed = await sync_published_site(database, declared, ["88.118"], declared=True)
    assert changed == ["0.NA/88.118", "0.NA/88.118.8"]
    assert await ports_of(database, "88.118") == (2, [2641, 2651])
    assert await ports_of(database, "88.118.8") == (2, [2641, 2651])
    assert await sync_published_site(database, declared, ["88.118"], declared=True) == []


async def test_mirrors_publish_each_server_as_a_secondary_site(database: HandleStore) -> None:
    await publish(database, "88.118", site_at(2641))
    declared = build_site_info([("127.0.0.1", 2641), ("127.0.0.1", 2651)], public_key=KEY,
                               http_port=8000)
    with pytest.raises(SiteMismatch, match=r"index 2 of 0\.NA/88\.118 holds URL"):
        await sync_published_site(database, declared, ["88.118"], declared=True, mirrors=True)
    await database.remove_values("0.NA/88.118", [2], actor="test")
    changed = await sync_published_site(database, declared, ["88.118"], declared=True,
                                        mirrors=True)
    assert changed == ["0.NA/88.118"]
    record = await database.get_handle("0.NA/88.118")
    assert record is not None
    sites = {v.index: decode_site_info(v.data) for v in record.values if v.type == "HS_SITE"}
    assert [len(sites[i].servers) for i in sorted(sites)] == [2, 1, 1]
    assert [sites[i].is_primary for i in sorted(sites)] == [True, False, False]
    assert [sites[i].servers[0].interfaces[0].port for i in (2, 3)] == [2641, 2651]
    assert await sync_published_site(database, declared, ["88.118"], declared=True,
                                      mirrors=True) == []
