"""Prefixes, enterprises (status, quota), credentials, links, templates and counters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from protocol.values import HandleValue
from registry.errors import (
    AlreadyExists,
    EnterpriseSuspended,
    InvalidArgument,
    NotFound,
    QuotaExceeded,
)
from registry.models import HandleLink, table_of
from registry.store import HandleStore

VALUE = HandleValue(1, "URL", b"https://example.test")


async def owned_prefix(store: HandleStore, quota: int | None = None) -> None:
    await store.add_enterprise("ACME", "Acme Appliances", industry="appliance", quota=quota)
    await store.create_prefix("88.118.8", owner="ACME")


async def test_prefixes(database: HandleStore) -> None:
    created = await database.create_prefix("88.118.8")
    assert (created.parent, created.kind, created.status) == ("88.118", "hosted", "active")
    await database.create_prefix("88.118.9", kind="delegated")
    with pytest.raises(AlreadyExists):
        await database.create_prefix("88.118.8")
    with pytest.raises(InvalidArgument):
        await database.create_prefix("88.118.10", kind="nonsense")
    await database.set_prefix_kind("88.118.8", "delegated")
    assert (await database.get_prefix("88.118.8")).kind == "delegated"  # type: ignore[union-attr]
    assert [p.name for p in await database.list_prefixes(kind="delegated")] == [
        "88.118.8", "88.118.9"]
    assert (await database.match_prefix("88.118.8.77")).name == "88.118.8"  # type: ignore[union-attr]
    assert await database.match_prefix("99.1") is None
    await database.delete_prefix("88.118.9")
    assert await database.get_prefix("88.118.9") is None
    with pytest.raises(NotFound):
        await database.delete_prefix("88.118.9")


async def test_enterprises(database: HandleStore) -> None:
    await owned_prefix(database, quota=5)
    acme = await database.get_enterprise("ACME")
    assert acme is not None and (acme.industry, acme.status, acme.quota) == ("appliance",
                                                                           "active", 5)
    with pytest.raises(InvalidArgument):
        await database.add_enterprise("BAD", "Bad", industry="software")
    await database.set_enterprise_quota("ACME", None)
    await database.set_enterprise_status("ACME", "suspended")
    assert [(e.code, e.status, e.quota) for e in await database.list_enterprises()] == [
        ("ACME", "suspended", None)]
    assert [p.name for p in await database.list_prefixes(owner="ACME")] == ["88.118.8"]
    with pytest.raises(NotFound):
        await database.set_enterprise_status("NOBODY", "active")


async def test_quota_is_enforced_on_create(database: HandleStore) -> None:
    await owned_prefix(database, quota=2)
    await database.create_handle("88.118.8/a", [VALUE], actor="t")
    await database.replace_handle("88.118.8/b", [VALUE], actor="t")
    with pytest.raises(QuotaExceeded) as caught:
        await database.create_handle("88.118.8/c", [VALUE], actor="t")
    assert caught.value.response_code == 401
    await database.replace_handle("88.118.8/a", [VALUE], actor="t")  # updates are fine
    await database.create_handle("88.118.99/free", [VALUE], actor="t")  # unowned prefix
    await database.delete_handle("88.118.8/b", actor="t")
    await database.create_handle("88.118.8/c", [VALUE], actor="t")


async def test_quota_holds_under_concurrent_creates(database: HandleStore) -> None:
    await owned_prefix(database, quota=3)
    results = await asyncio.gather(
        *(database.create_handle(f"88.118.8/n{n}", [VALUE], actor="t") for n in range(6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, BaseException))
    assert await database.count_handles("88.118.8") == 3


async def test_suspended_enterprise_cannot_write(database: HandleStore) -> None:
    await owned_prefix(database)
    await database.create_handle("88.118.8/a", [VALUE], actor="t")
    await database.set_enterprise_status("ACME", "suspended")
    with pytest.raises(EnterpriseSuspended):
        await database.create_handle("88.118.8/b", [VALUE], actor="t")
    with pytest.raises(EnterpriseSuspended):
        await database.add_values("88.118.8/a", [HandleValue(2, "EMAIL", b"x")], actor="t")
    with pytest.raises(EnterpriseSuspended):
        await database.delete_handle("88.118.8/a", actor="t")
    assert await database.get_handle("88.118.8/a") is not None  # still resolvable
    await database.set_enterprise_status("ACME", "active")
    await database.delete_handle("88.118.8/a", actor="t")


async def test_credentials(database: HandleStore) -> None:
    await owned_prefix(database)
    key = await database.record_credential("0.NA/88.118.8", 300, "pubkey", enterprise="ACME")
    other = await database.record_credential("0.NA/88.118.8", 301, "seckey", enterprise="ACME")
    assert [c.id for c in await database.list_credentials(enterprise="ACME")] == [key.id,
                                                                                  other.id]
    await database.revoke_credential(key.id)
    assert [c.id for c in await database.list_credentials()] == [other.id]
    every = await database.list_credentials(include_revoked=True)
    assert every[0].revoked is not None and every[1].revoked is None
    with pytest.raises(InvalidArgument):
        await database.record_credential("0.NA/88.118.8", 302, "password")


async def test_deleting_a_handle_drops_its_links(database: HandleStore) -> None:
    await database.create_handle("88.118.8/TV-1", [VALUE], actor="t")
    async with database.transaction(), database._write() as conn:
        await conn.execute(insert(table_of(HandleLink)), [{
            "from_key": "88.118.8/TV-1", "from_handle": "88.118.8/TV-1",
            "to_key": "88.118.8/PANEL-9", "to_handle": "88.118.8/PANEL-9",
            "relation": "component"}])
    assert await database.where_used_many(["88.118.8/PANEL-9"])
    await database.delete_handle("88.118.8/TV-1", actor="t")
    assert await database.where_used_many(["88.118.8/PANEL-9"]) == {}


async def test_templates(database: HandleStore) -> None:
    await database.put_template("tv", 1, {"type": "object"})
    await database.put_template("tv", 2, '{"type": "object", "required": ["model"]}')
    await database.put_template("tv", 1, {"type": "object", "title": "v1"})
    latest = await database.get_template("tv")
    assert latest is not None and latest.version == 2
    first = await database.get_template("tv", 1)
    assert first is not None and '"title": "v1"' in first.schema
    assert await database.get_template("tv", 3) is None
    assert [(t.name, t.version) for t in await database.list_templates()] == [("tv", 1),
                                                                              ("tv", 2)]
    with pytest.raises(InvalidArgument):
        await database.put_template("bad", 1, "{not json")


async def test_counters_add_up(database: HandleStore) -> None:
    hour = datetime(2026, 1, 1, 10, tzinfo=UTC)
    later = datetime(2026, 1, 1, 11, tzinfo=UTC)
    await database.bump_counter("resolve", "88.118.8", hour)
    await database.bump_counter("resolve", "88.118.8", hour, 4)
    await database.bump_counters([("resolve", "88.118.8", later, 2), ("miss", "", hour, 1)])
    rows = await database.read_counters(metric="resolve")
    assert [(r.period, r.prefix, r.count) for r in rows] == [
        (hour, "88.118.8", 5), (later, "88.118.8", 2)]
    assert [r.count for r in await database.read_counters(since=later)] == [2]
    assert [r.metric for r in await database.read_counters(until=later)] == ["miss", "resolve"]


async def test_directory_changes_are_audited(database: HandleStore) -> None:
    await database.add_enterprise("ACME", "Acme", quota=3, actor="ops")
    await database.create_prefix("88.118.8", owner="ACME", actor="ops")
    await database.set_prefix_kind("88.118.8", "delegated", actor="ops")
    await database.set_enterprise_quota("ACME", 10)
    await database.set_enterprise_status("ACME", "suspended", actor="ops")
    key = await database.record_credential("0.NA/88.118.8", 300, "pubkey", actor="ops")
    await database.revoke_credential(key.id, actor="ops")
    await database.delete_prefix("88.118.8", actor="ops")
    entries = await database.audit_entries()
    assert [(e.actor, e.action, e.handle) for e in entries] == [
        ("ops", "enterprise.create", None),
        ("ops", "prefix.create", "0.NA/88.118.8"),
        ("ops", "prefix.kind", "0.NA/88.118.8"),
        ("admin", "enterprise.quota", None),
        ("ops", "enterprise.status", None),
        ("ops", "credential.create", "0.NA/88.118.8"),
        ("ops", "credential.revoke", None),
        ("ops", "prefix.delete", "0.NA/88.118.8"),
    ]
    assert entries[4].detail == {"enterprise": "ACME", "status": "suspended"}
    assert (await database.verify_audit()).ok


async def test_a_refused_directory_change_logs_nothing(database: HandleStore) -> None:
    with pytest.raises(NotFound):
        await database.set_enterprise_status("NOBODY", "active")
    await database.add_enterprise("ACME", "Acme")
    with pytest.raises(AlreadyExists):
        await database.add_enterprise("ACME", "Acme again")
    assert [e.action for e in await database.audit_entries()] == ["enterprise.create"]
