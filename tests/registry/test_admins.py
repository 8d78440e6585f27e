"""Every create passes the store's admission: the default administrator of an enterprise's
new handle, and (``hosted_only``) no handle under a prefix not registered here."""

from __future__ import annotations

import pytest

from protocol.admin_record import decode_admin_record
from protocol.constants import ADMIN_PERM_ADD_NA, ADMIN_PERM_DELETE_HANDLE, TYPE_HS_ADMIN
from protocol.values import HandleValue
from registry.admins import admin_value, with_default_admin
from registry.errors import PrefixNotHosted
from registry.store import HandleStore
from registry.write_rules import WriteRules


def url(index: int = 1) -> HandleValue:
    return HandleValue(index, "URL", b"https://example.test")


def admin_refs(store_values: tuple[HandleValue, ...]) -> list[tuple[int, str, int]]:
    refs = []
    for value in store_values:
        if value.type == TYPE_HS_ADMIN:
            record = decode_admin_record(value.data)
            refs.append((value.index, record.admin_handle, record.admin_index))
    return refs


@pytest.fixture
async def acme(database: HandleStore) -> HandleStore:
    """A store where enterprise ACME holds 88.118.8 and the node holds 88.118."""
    await database.create_prefix("88.118")
    await database.add_enterprise("ACME", "Acme")
    await database.create_prefix("88.118.8", owner="ACME")
    return database


async def test_a_new_enterprise_handle_gets_its_admin(acme: HandleStore) -> None:
    record = await acme.create_handle("88.118.8/A", [url()], actor="t")
    assert admin_refs(record.values) == [(100, "0.NA/88.118.8", 300)]
    admin = decode_admin_record(record.values[-1].data)
    assert admin.has(ADMIN_PERM_DELETE_HANDLE) and not admin.has(ADMIN_PERM_ADD_NA)
    derived = await acme.create_handle("88.118.8.4/B", [url()], actor="t")
    assert admin_refs(derived.values) == [(100, "0.NA/88.118.8", 300)]  # the owning prefix


async def test_a_given_admin_is_kept_and_a_taken_index_skipped(acme: HandleStore) -> None:
    given = await acme.create_handle("88.118.8/A", [url(), admin_value(5, "0.NA/88.118", 300)],
                                     actor="t")
    assert admin_refs(given.values) == [(5, "0.NA/88.118", 300)]
    crowded = await acme.create_handle("88.118.8/B", [url(100), url(101)], actor="t")
    assert admin_refs(crowded.values) == [(102, "0.NA/88.118.8", 300)]


async def test_node_handles_and_the_prefix_handle_get_none(acme: HandleStore) -> None:
    assert admin_refs((await acme.create_handle("88.118/N", [url()], actor="t")).values) == []
    prefix = await acme.create_handle("0.NA/88.118.8", [url()], actor="t")
    assert admin_refs(prefix.values) == []


async def test_bulk_put_adds_the_admin_to_new_records_only(acme: HandleStore) -> None:
    await acme.create_handle("88.118.8/OLD", [url()], actor="t")
    await acme.replace_handle("88.118.8/OLD", [url()], actor="t")
    result = await acme.bulk_put([("88.118.8/NEW", [url()]), ("88.118.8/OLD", [url(2)])],
                                 actor="i", overwrite=True)
    assert (result.inserted, result.replaced) == (1, 1)
    new, old = await acme.get_handle("88.118.8/NEW"), await acme.get_handle("88.118.8/OLD")
    assert new is not None and admin_refs(new.values) == [(100, "0.NA/88.118.8", 300)]
    assert old is not None and admin_refs(old.values) == []  # an overwrite says it all


async def test_hosted_only_refuses_foreign_prefixes(acme: HandleStore) -> None:
    await acme.create_handle("99.1/OPEN", [url()], actor="t")  # a bare store takes anything
    acme.rules = WriteRules(hosted_only=True)
    with pytest.raises(PrefixNotHosted, match=r"99\.1/X: no prefix registered"):
        await acme.create_handle("99.1/X", [url()], actor="t")
    with pytest.raises(PrefixNotHosted):
        await acme.create_handle("0.NA/99.1", [url()], actor="t")
    result = await acme.bulk_put([("99.1/Y", [url()]), ("88.118.77/Z", [url()])], actor="i")
    assert [r.name for r in result.rejected] == ["99.1/Y"] and result.inserted == 1
    await acme.replace_handle("99.1/OPEN", [url(2)], actor="t")  # existing handles stay writable


async def test_bulk_put_refuses_a_record_without_values(database: HandleStore) -> None:
    result = await database.bulk_put([("88.118.8/E", [])], actor="i")
    assert [r.reason for r in result.rejected] == ["88.118.8/E has no values (a record needs "
                                                   "at least one)"]
    assert await database.get_handle("88.118.8/E") is None


def test_a_record_that_comes_signed_is_kept_as_signed() -> None:
    values = {1: url(), 400: HandleValue(400, "HS_SIGNATURE", b"{}")}
    assert with_default_admin(values, "88.118.8") == values
    assert admin_refs(tuple(with_default_admin({1: url()}, "88.118.8").values())) == [
        (100, "0.NA/88.118.8", 300)]
