"""bulk_put with a batch made ready before its transaction (prepare_bulk): what the
transaction finds changed since is decided again there, as if never prepared."""

from __future__ import annotations

from sqlalchemy import text

from protocol.values import HandleValue
from registry.records import Rejection
from registry.store import HandleStore


def record(n: int, prefix: str = "88.118.8") -> tuple[str, list[HandleValue]]:
    return f"{prefix}/PREP-{n:03d}", [HandleValue(1, "URL", f"https://e.test/{n}".encode())]


async def stored(store: HandleStore, name: str) -> list[tuple[int, str, bytes]] | None:
    found = await store.get_handle(name)
    return None if found is None else [(v.index, v.type, v.data) for v in found.values]


async def test_a_prepared_batch_stores_what_an_unprepared_one_stores(
        database: HandleStore) -> None:
    await database.add_enterprise("ACME", "Acme")
    await database.create_prefix("88.118.8", owner="ACME")
    batch = [record(n) for n in range(4)] + [("no-slash", [HandleValue(1, "URL", b"x")]),
                                            ("88.118.8/prep-001", [HandleValue(1, "URL", b"y")])]
    prepared = await database.prepare_bulk(batch)
    result = await database.bulk_put(batch, actor="t", prepared=prepared)
    again = [(f"{name}-B", values) for name, values in batch]
    fresh = await database.bulk_put(again, actor="t")
    assert (result.inserted, [(r.row, r.response_code) for r in result.rejected]) == (
        4, [(4, 102), (5, 101)])
    assert (fresh.inserted, [(r.row, r.response_code) for r in fresh.rejected]) == (
        4, [(4, 102), (5, 101)])
    for n in range(4):
        name = record(n)[0]
        made, unprepared = await database.get_handle(name), await database.get_handle(f"{name}-B")
        assert made is not None and unprepared is not None
        assert [(v.index, v.type, v.data) for v in made.values] == [
            (v.index, v.type, v.data) for v in unprepared.values]
        assert [v.type for v in made.values] == ["URL", "HS_ADMIN"]
        assert made.values[0].timestamp == prepared.stamp
    assert (await database.verify_audit()).ok


async def test_a_handle_created_after_the_batch_was_prepared_is_rejected_or_replaced(
        database: HandleStore) -> None:
    batch = [record(n) for n in range(3)]
    prepared = await database.prepare_bulk(batch)
    await database.create_handle(record(1)[0], [HandleValue(5, "URL", b"first")], actor="t")
    result = await database.bulk_put(batch, actor="t", prepared=prepared)
    assert (result.inserted, [(r.row, r.response_code) for r in result.rejected]) == (
        2, [(1, 101)])
    assert await stored(database, record(1)[0]) == [(5, "URL", b"first")]

    batch = [(name, [HandleValue(7, "URL", b"new")]) for name, _ in (record(n) for n in range(5))]
    prepared = await database.prepare_bulk(batch)
    await database.create_handle(record(3)[0], [HandleValue(5, "URL", b"first")], actor="t")
    result = await database.bulk_put(batch, actor="t", overwrite=True, prepared=prepared)
    assert (result.inserted, result.replaced, result.rejected) == (1, 4, ())
    for n in range(5):
        assert await stored(database, record(n)[0]) == [(7, "URL", b"new")]
    replaced = await database.get_handle(record(3)[0])
    assert replaced is not None and replaced.version == 2
    assert (await database.verify_audit()).ok


async def test_an_owner_found_after_the_batch_was_prepared_gives_its_admin(
        database: HandleStore) -> None:
    """Prepared while no enterprise held the prefix (no admin added), stored after one
    took it: the records get its default admin, as a batch prepared then would."""
    batch = [record(n, "88.118.9") for n in range(3)]
    prepared = await database.prepare_bulk(batch)
    assert all(p.admission is None for p in prepared.records.values())
    await database.add_enterprise("LATE", "Late")
    await database.create_prefix("88.118.9", owner="LATE")
    result = await database.bulk_put(batch, actor="t", prepared=prepared)
    assert (result.inserted, result.rejected) == (3, ())
    for name, _values in batch:
        types = [t for _i, t, _d in await stored(database, name) or []]
        assert types == ["URL", "HS_ADMIN"]


async def test_a_suspension_after_the_batch_was_prepared_rejects_its_records(
        database: HandleStore) -> None:
    await database.add_enterprise("ACME", "Acme")
    await database.create_prefix("88.118.8", owner="ACME")
    batch = [record(n) for n in range(2)]
    prepared = await database.prepare_bulk(batch)
    await database.set_enterprise_status("ACME", "suspended")
    result = await database.bulk_put(batch, actor="t", prepared=prepared)
    assert result.inserted == 0
    assert [r.row for r in result.rejected] == [0, 1]
    assert all("suspended" in r.reason for r in result.rejected)


async def test_a_twice_named_handle_is_decided_in_the_transaction_when_its_first_fails(
        database: HandleStore) -> None:
    """The batch's first record of a name is taken when prepared and the second
    rejected as a repeat; if the first turns out to exist, the second is decided again
    (and is rejected as existing too, as an unprepared batch does)."""
    name = record(0)[0]
    batch = [record(0), (name.lower(), [HandleValue(2, "URL", b"second")])]
    prepared = await database.prepare_bulk(batch)
    assert [p.duplicate for p in prepared.records.values()] == [False, True]
    await database.create_handle(name, [HandleValue(5, "URL", b"first")], actor="t")
    result = await database.bulk_put(batch, actor="t", prepared=prepared)
    expected = await database.bulk_put(batch, actor="t")
    assert [(r.row, r.response_code) for r in result.rejected] == [
        (r.row, r.response_code) for r in expected.rejected] == [(0, 101), (1, 101)]


async def test_links_and_identifiers_laid_out_before_are_stored_as_a_single_write_stores_them(
        database: HandleStore) -> None:
    """The where-used links, their back-link queue and the identifier index a bulk write
    laid out before its transaction are the rows a create writes for the same record."""
    def values(n: int) -> list[HandleValue]:
        return [HandleValue(1, "URL", b"https://e.test/p"),
                HandleValue(2, "TRACE.COMPONENT", b"88.118.8/PART-1"),
                HandleValue(3, "TRACE.COMPONENT", b"99.999/REMOTE-PART", public_read=False),
                HandleValue(4, "TRACE.BATCH", b"88.118.8/BATCH-1"),
                HandleValue(5, "ID.GS1", f"(01)06901234567892(21)S{n}".encode())]
    made = await database.prepare_bulk([("88.118.8/BULK", values(1))])
    row = made.records[0].outcome
    assert row is not None and not isinstance(row, Rejection)
    assert row.links is not None and row.identifiers is not None  # laid out before
    assert (await database.bulk_put([("88.118.8/BULK", values(1))], actor="t",
                                    prepared=made)).inserted == 1
    await database.create_handle("88.118.8/ONE", values(2), actor="t")
    queries = {
        "handle_links": "SELECT from_key, from_handle, to_key, to_handle, relation, tier "
                        "FROM handle_links",
        "identifier_keys": "SELECT key, scheme, name_key, handle, public FROM identifier_keys",
        "backlink_outbox": "SELECT product_key, part_key, relation, product_handle, "
                           "part_handle, op FROM backlink_outbox",
    }
    async with database.engine.connect() as conn:
        for table, sql in queries.items():
            rows = [tuple(map(str, row)) for row in (await conn.execute(text(sql))).all()]
            bulk = sorted(_as_one(row, "BULK", "S1") for row in rows if "88.118.8/BULK" in row)
            single = sorted(_as_one(row, "ONE", "S2") for row in rows if "88.118.8/ONE" in row)
            assert bulk == single, table
            assert bulk, table  # (a part on another node is queued as a back-link)


def _as_one(row: tuple[str, ...], name: str, serial: str) -> tuple[str, ...]:
    """``row`` with the record's name and identifier serial made the same for both."""
    return tuple(field.replace(f"88.118.8/{name}", "88.118.8/X").replace(serial, "S")
                 for field in row)
