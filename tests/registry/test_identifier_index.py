"""registry/identifiers: ID.GS1 / ID.OID / ID.ECODE values are indexed in every write, one
handle each."""

from __future__ import annotations

import pytest

from protocol.values import HandleValue
from registry.errors import InvalidValue
from registry.store import HandleStore

GS1_ITEM = "gs1:01/06901234567892/21/ABC123"
ECODE = "ecode:1000100000000000000001234"


def _id(index: int, kind: str, text: str) -> HandleValue:
    return HandleValue(index=index, type=kind, data=text.encode())


def _url(index: int = 1) -> HandleValue:
    return HandleValue(index=index, type="URL", data=b"https://example.com/p")


async def test_create_change_delete_keep_the_index(database: HandleStore) -> None:
    await database.create_handle("88.118.8/TV-1", [
        _url(), _id(2, "ID.GS1", "(01)06901234567892(21)ABC123"),
        _id(3, "ID.OID", "urn:oid:1.2.156.3001.1"),
        _id(4, "ID.ECODE", "Ecode 1 0001 0000 0000 0000 0000 1234")], actor="t")
    assert await database.handle_by_identifier(GS1_ITEM) == "88.118.8/TV-1"
    assert await database.handle_by_identifier(ECODE) == "88.118.8/TV-1"
    assert await database.handle_by_identifier("oid:1.2.156.3001.1") == "88.118.8/TV-1"
    await database.remove_values("88.118.8/TV-1", [3], actor="t")
    assert await database.handle_by_identifier("oid:1.2.156.3001.1") is None
    assert await database.handle_by_identifier(GS1_ITEM) == "88.118.8/TV-1"
    await database.delete_handle("88.118.8/TV-1", actor="t")
    assert await database.handle_by_identifier(GS1_ITEM) is None
    assert await database.handle_by_identifier(ECODE) is None


async def test_a_key_bound_elsewhere_is_refused_with_the_owner(database: HandleStore) -> None:
    await database.create_handle(
        "88.118.8/TV-1", [_id(2, "ID.GS1", "6901234567892")], actor="t")
    with pytest.raises(InvalidValue, match=r"already bound to 88\.118\.8/TV-1"):
        await database.create_handle(   # same GTIN, another spelling
            "88.118.8/TV-2", [_id(2, "ID.GS1", "https://id.example/01/06901234567892")],
            actor="t")
    assert await database.get_handle("88.118.8/TV-2") is None
    # the owner itself may rewrite its value in another spelling
    await database.replace_handle(
        "88.118.8/TV-1", [_id(2, "ID.GS1", "(01)06901234567892")], actor="t")


@pytest.mark.parametrize(("value", "reason"), [
    (_id(2, "ID.GS1", "6901234567893"), "check digit"),
    (_id(2, "ID.GS1", "urn:oid:1.2.156"), "is OID, not GS1"),
    (_id(2, "ID.OID", "oid:1.45"), "below 40"),
    (_id(2, "ID.ECODE", "ecode:1 0001 12AB"), "decimal digits"),
    (_id(2, "ID.ECODE", "urn:oid:1.2.156"), "is OID, not ECODE"),
])
async def test_malformed_identifiers_are_refused_naming_the_value(
    database: HandleStore, value: HandleValue, reason: str
) -> None:
    with pytest.raises(InvalidValue, match=reason) as caught:
        await database.create_handle("88.118.8/BAD", [_url(), value], actor="t")
    assert "value 2 (" in str(caught.value)


async def test_bulk_rejects_taken_and_malformed_rows_only(database: HandleStore) -> None:
    await database.create_handle(
        "88.118.8/OLD", [_id(2, "ID.GS1", "6901234567892")], actor="t")
    result = await database.bulk_put([
        ("88.118.8/A", [_url(), _id(2, "ID.GS1", "96385074")]),
        ("88.118.8/B", [_url(), _id(2, "ID.GS1", "(01)06901234567892")]),   # taken by OLD
        ("88.118.8/C", [_url(), _id(2, "ID.GS1", "00000096385074")]),       # taken by A
        ("88.118.8/D", [_url(), _id(2, "ID.GS1", "12345678")]),             # bad check digit
        ("88.118.8/E", [_url(), _id(2, "ID.OID", "1.2.156.9")]),
    ], actor="t")
    assert result.inserted == 2
    reasons = {r.name: r.reason for r in result.rejected}
    assert set(reasons) == {"88.118.8/B", "88.118.8/C", "88.118.8/D"}
    assert "already bound to 88.118.8/OLD" in reasons["88.118.8/B"]
    assert "already bound to 88.118.8/A" in reasons["88.118.8/C"]
    assert "check digit" in reasons["88.118.8/D"]
    assert await database.handle_by_identifier("gs1:01/00000096385074") == "88.118.8/A"
    assert await database.handle_by_identifier("oid:1.2.156.9") == "88.118.8/E"


async def test_an_ecode_bound_elsewhere_is_refused_with_the_owner(database: HandleStore) -> None:
    await database.create_handle(
        "88.118.8/TV-1", [_id(2, "ID.ECODE", "ecode:310001ABC")], actor="t")
    taken = r"ECODE key 310001ABC is already bound to 88\.118\.8/TV-1"
    with pytest.raises(InvalidValue, match=taken):
        await database.create_handle(
            "88.118.8/TV-2", [_id(2, "ID.ECODE", "urn:ecode:3-10001-ABC")], actor="t")


async def test_a_restricted_identifier_is_bound_but_found_by_nobody(database: HandleStore) -> None:
    """Only a public ID.* value makes its code resolvable (/api/resolve, Digital Link, DNS)."""
    secret = HandleValue(2, "ID.GS1", b"(01)06901234567892(21)S1", public_read=False)
    await database.create_handle("88.118.8/TV-1", [_url(), secret], actor="t")
    key = "gs1:01/06901234567892/21/S1"
    assert await database.handle_by_identifier(key) is None
    with pytest.raises(InvalidValue, match=r"already bound to 88\.118\.8/TV-1"):
        await database.create_handle(
            "88.118.8/TV-2", [_id(2, "ID.GS1", "(01)06901234567892(21)S1")], actor="t")
    # made public (same code, same index): now it resolves; restricted again: hidden again
    await database.replace_handle("88.118.8/TV-1", [_url(), _id(2, "ID.GS1",
                                  "(01)06901234567892(21)S1")], actor="t")
    assert await database.handle_by_identifier(key) == "88.118.8/TV-1"
    await database.replace_handle("88.118.8/TV-1", [_url(), secret], actor="t")
    assert await database.handle_by_identifier(key) is None
