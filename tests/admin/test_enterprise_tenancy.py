"""F1b (issue 18): operator commands are all-or-nothing, and credentials never go
into a prefix handle that someone else controls."""

from __future__ import annotations

import asyncio

from protocol.constants import TYPE_HS_SECKEY
from registry.bootstrap import admin_value
from registry.store import HandleStore
from tests.admin.conftest import Node

SQUATTED = "0.NA/88.118.8.9"


async def _squat(node: Node) -> None:
    """What ACME's admin (granted sub-prefixes) can do: a derived prefix handle naming itself."""
    store = await HandleStore.open(str(node.db), migrate=False)
    try:
        await store.create_handle(SQUATTED, [admin_value(100, "0.NA/88.118.8", 300)],
                                  actor="300:0.NA/88.118.8")
    finally:
        await store.close()


async def _state(node: Node) -> tuple[object, object, object]:
    store = await HandleStore.open(str(node.db), migrate=False)
    try:
        return (await store.get_enterprise("D"), await store.get_prefix("88.118.8.9"),
                await store.get_handle(SQUATTED))
    finally:
        await store.close()


def test_failing_enterprise_add_leaves_nothing_behind(node: Node) -> None:
    asyncio.run(_squat(node))
    failed = node.run("enterprise", "add", "D", "--name", "Dee", "--prefix", "88.118.8.9",
                      expect=1)
    assert "0.NA/88.118.8.9" in failed.stderr
    enterprise, prefix, record = asyncio.run(_state(node))
    assert enterprise is None and prefix is None
    assert record is not None and [v.index for v in record.values] == [100]
    node.run("enterprise", "credentials", "D", expect=1)  # no such enterprise
    assert TYPE_HS_SECKEY not in {v.type for v in asyncio.run(_state(node))[2].values}  # type: ignore[union-attr]


def test_credentials_are_not_written_into_a_handle_others_control(node: Node) -> None:
    asyncio.run(_squat(node))
    node.run("enterprise", "add", "D", "--name", "Dee", "--prefix", "88.118.30")
    # D's prefix registered to D, but its handle names ACME's admin (e.g. created earlier)
    node.run("prefix", "create", "88.118.8.9", "--enterprise", "D", expect=0)
    refused = node.run("enterprise", "credentials", "ACME", "--prefix", "88.118.8.9", expect=1)
    assert "not registered to enterprise ACME" in refused.stderr
    issued = node.json("enterprise", "credentials", "D", "--prefix", "88.118.8.9")
    # `prefix create` replaced the squatted record with the operator's: ACME is gone
    record = asyncio.run(_state(node))[2]
    assert record is not None and issued["admin_handle"] == SQUATTED
    admins = {v.data for v in record.values if v.type == "HS_ADMIN"}
    assert admin_value(100, "0.NA/88.118.8", 300).data not in admins


async def _plant_foreign_admin(node: Node) -> None:
    store = await HandleStore.open(str(node.db), migrate=False)
    try:
        await store.add_values("0.NA/88.118.30", [admin_value(102, "0.NA/88.118.8", 300)],
                               actor="test")
    finally:
        await store.close()


def test_credentials_refused_when_a_foreign_admin_is_listed(node: Node) -> None:
    node.run("enterprise", "add", "D", "--name", "Dee", "--prefix", "88.118.30")
    asyncio.run(_plant_foreign_admin(node))
    refused = node.run("enterprise", "credentials", "D", expect=1)
    assert "300:0.NA/88.118.8 as admin" in refused.stderr
    node.run("enterprise", "credentials", "D", "--public-key", "/nonexistent", expect=1)


def test_delegating_a_squatted_prefix_drops_the_squatter(node: Node) -> None:
    asyncio.run(_squat(node))
    node.run("enterprise", "add", "D", "--name", "Dee", "--prefix", "88.118.30")
    node.run("prefix", "delegate", "88.118.8.9", "--server", "127.0.0.1:2642",
             "--enterprise", "D")
    record = asyncio.run(_state(node))[2]
    assert record is not None
    admins = {v.data for v in record.values if v.type == "HS_ADMIN"}
    assert admin_value(100, "0.NA/88.118.8", 300).data not in admins


def test_sub_prefixes_command(node: Node) -> None:
    allowed = node.json("enterprise", "sub-prefixes", "ACME", "allow")
    assert allowed == {"enterprise": "ACME", "prefix": "88.118.8", "sub_prefixes": "allow"}
    node.run("enterprise", "sub-prefixes", "ACME", "deny")
    node.run("enterprise", "sub-prefixes", "ACME", "allow", "--prefix", "88.118.9", expect=1)
