"""HandleStore handle reads and writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from protocol.values import HandleValue, ValueReference
from registry.db import POOL_SIZE
from registry.errors import (
    ConcurrentModification,
    HandleAlreadyExists,
    HandleNotFound,
    InvalidHandle,
    InvalidValue,
    ValueAlreadyExists,
    ValuesNotFound,
)
from registry.store import HandleStore
from tests._services import PgDatabase

NAME = "88.118.8/TV-0001"


def url(index: int = 1, text: str = "https://example.test/tv") -> HandleValue:
    return HandleValue(index, "URL", text.encode())


async def test_create_then_get_round_trips_every_field(database: HandleStore) -> None:
    full = HandleValue(
        7, "HS_ALIAS", b"\x00\xffbin", ttl_type=1, ttl=2_000_000_000, admin_read=False,
        admin_write=True, public_read=False, public_write=True,
        references=(ValueReference("88.118.8/OTHER", 3),),
    )
    created = await database.create_handle(NAME, [full, url()], actor="alice")
    assert created.name == NAME and created.version == 1
    assert [v.index for v in created.values] == [1, 7]
    assert all(v.timestamp > 0 for v in created.values)
    fetched = await database.get_handle(NAME)
    assert fetched == created
    stored = fetched.values[1]
    assert (stored.data, stored.ttl_type, stored.ttl, stored.references) == (
        full.data, 1, 2_000_000_000, full.references)
    assert stored.permissions == full.permissions


async def test_lookup_is_case_insensitive_and_keeps_the_given_spelling(
    database: HandleStore,
) -> None:
    await database.create_handle("88.118.8/Tv-Mixed", [url()], actor="a")
    record = await database.get_handle("88.118.8/TV-MIXED")
    assert record is not None and record.name == "88.118.8/Tv-Mixed"
    with pytest.raises(HandleAlreadyExists):
        await database.create_handle("88.118.8/tv-mixed", [url()], actor="a")


async def test_non_ascii_is_not_folded(database: HandleStore) -> None:
    await database.create_handle("88.118.8/é", [url()], actor="a")
    assert await database.get_handle("88.118.8/É") is None
    assert await database.get_handle("88.118.8/é") is not None


async def test_missing_handle(database: HandleStore) -> None:
    assert await database.get_handle("88.118.8/NOPE") is None
    for write in (
        database.add_values("88.118.8/NOPE", [url()], actor="a"),
        database.modify_values("88.118.8/NOPE", [url()], actor="a"),
        database.remove_values("88.118.8/NOPE", [1], actor="a"),
        database.delete_handle("88.118.8/NOPE", actor="a"),
    ):
        with pytest.raises(HandleNotFound):
            await write


async def test_invalid_input(database: HandleStore) -> None:
    with pytest.raises(InvalidHandle):
        await database.create_handle("no-slash", [url()], actor="a")
    with pytest.raises(InvalidValue):
        await database.create_handle(NAME, [url(0)], actor="a")
    with pytest.raises(ValueAlreadyExists):
        await database.create_handle(NAME, [url(1), url(1, "other")], actor="a")
    assert await database.get_handle(NAME) is None


async def test_type_and_index_filters(database: HandleStore) -> None:
    await database.create_handle(NAME, [
        url(1), HandleValue(2, "HS_SITE", b"s"), HandleValue(3, "HS_SITE.PREFIX", b"p"),
        HandleValue(100, "HS_ADMIN", b"a"),
    ], actor="a")

    async def indexes(**kw: object) -> list[int]:
        record = await database.get_handle(NAME, **kw)  # type: ignore[arg-type]
        assert record is not None
        return [v.index for v in record.values]

    assert await indexes(types=["url"]) == [1]
    assert await indexes(types=["HS_SITE"]) == [2]
    assert await indexes(types=["HS_SITE."]) == [2, 3]
    assert await indexes(indexes=[100]) == [100]
    assert await indexes(types=["URL"], indexes=[3]) == [1, 3]
    assert await indexes(types=["NONE"]) == []


async def test_get_handle_is_one_query(database: HandleStore) -> None:
    await database.create_handle(NAME, [url(1), url(2)], actor="a")
    before = database.query_count
    assert await database.get_handle(NAME) is not None
    assert database.query_count - before == 1


async def test_get_handles_reads_several_records_in_one_query(database: HandleStore) -> None:
    await database.create_handle(NAME, [url(1), url(2)], actor="a")
    await database.create_handle("88.118.8/tv-0002", [url(5)], actor="a")
    before = database.query_count
    found = await database.get_handles(
        ["88.118.8/TV-0002", "88.118.8/NONE", NAME.lower(), "88.118.8/TV-0002"])
    assert database.query_count - before == 1
    assert [None if r is None else (r.name, [v.index for v in r.values]) for r in found] == [
        ("88.118.8/tv-0002", [5]), None, (NAME, [1, 2]), ("88.118.8/tv-0002", [5])]
    assert found[2] == await database.get_handle(NAME)


async def test_get_handles_of_some_types_reads_only_those_values(
    database: HandleStore,
) -> None:
    """What a create's checks read: HS_ADMIN and keys only; a record without any of
    them is found all the same (a create must see that its handle exists)."""
    admin = HandleValue(100, "HS_ADMIN", b"\x00\x0f\x00\x00\x00\x01x\x00\x00\x01\x2c")
    key = HandleValue(300, "HS_SECKEY", b"secret", public_read=False)
    await database.create_handle("0.NA/88.118.8", [url(1), admin, key], actor="a")
    await database.create_handle(NAME, [url(1), url(2)], actor="a")
    before = database.query_count
    found = await database.get_handles(
        [NAME, "0.NA/88.118.8", "88.118.8/NONE"], types=("HS_ADMIN", "HS_SECKEY", "HS_ADMIN"))
    assert database.query_count - before == 1
    assert [None if r is None else (r.name, [v.index for v in r.values]) for r in found] == [
        (NAME, []), ("0.NA/88.118.8", [100, 300]), None]
    whole = await database.get_handle("0.NA/88.118.8")
    assert whole is not None and found[1] is not None and found[1].version == whole.version
    assert list(found[1].values) == [v for v in whole.values if v.type != "URL"]


async def test_value_operations_bump_the_version(database: HandleStore) -> None:
    await database.create_handle(NAME, [url(1)], actor="a")
    added = await database.add_values(NAME, [url(2, "two")], actor="a")
    assert added.version == 2 and [v.index for v in added.values] == [1, 2]
    modified = await database.modify_values(NAME, [url(2, "deux")], actor="a")
    assert modified.version == 3 and modified.values[1].data == b"deux"
    assert modified.values[0] == added.values[0]  # untouched value keeps its timestamp
    removed = await database.remove_values(NAME, [1], actor="a")
    assert removed.version == 4 and [v.index for v in removed.values] == [2]
    assert await database.get_handle(NAME) == removed
    replaced = await database.replace_handle(NAME, [url(5)], actor="a", expected_version=4)
    assert replaced.version == 5 and [v.index for v in replaced.values] == [5]
    await database.delete_handle(NAME, actor="a", expected_version=5)
    assert await database.get_handle(NAME) is None


async def test_replace_creates_a_missing_handle(database: HandleStore) -> None:
    created = await database.replace_handle(NAME, [url()], actor="a")
    assert created.version == 1
    with pytest.raises(HandleNotFound):
        await database.replace_handle("88.118.8/GONE", [url()], actor="a", expected_version=1)


async def test_value_errors(database: HandleStore) -> None:
    await database.create_handle(NAME, [url(1)], actor="a")
    with pytest.raises(ValueAlreadyExists):
        await database.add_values(NAME, [url(1)], actor="a")
    with pytest.raises(ValuesNotFound):
        await database.modify_values(NAME, [url(9)], actor="a")
    with pytest.raises(ValuesNotFound):
        await database.remove_values(NAME, [9], actor="a")


async def test_a_failing_multi_value_write_stores_nothing(database: HandleStore) -> None:
    original = await database.create_handle(NAME, [url(1), url(2)], actor="a")
    entries = len(await database.audit_entries())
    with pytest.raises(ValuesNotFound):
        await database.modify_values(NAME, [url(1, "changed"), url(99)], actor="a")
    with pytest.raises(ValueAlreadyExists):
        await database.add_values(NAME, [url(3), url(2)], actor="a")
    with pytest.raises(ValuesNotFound):
        await database.remove_values(NAME, [1, 99], actor="a")
    assert await database.get_handle(NAME) == original
    assert len(await database.audit_entries()) == entries


async def test_stale_expected_version_is_refused(database: HandleStore) -> None:
    await database.create_handle(NAME, [url(1)], actor="a")
    await database.add_values(NAME, [url(2)], actor="a", expected_version=1)
    with pytest.raises(ConcurrentModification):
        await database.add_values(NAME, [url(3)], actor="b", expected_version=1)
    with pytest.raises(ConcurrentModification):
        await database.delete_handle(NAME, actor="b", expected_version=1)


async def test_two_writers_with_the_same_version_exactly_one_wins(
    database: HandleStore,
) -> None:
    await database.create_handle(NAME, [url(1)], actor="a")
    results = await asyncio.gather(
        *(
            database.modify_values(NAME, [url(1, f"writer {n}")], actor=f"w{n}",
                                   expected_version=1)
            for n in range(4)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, ConcurrentModification) for e in losers)
    final = await database.get_handle(NAME)
    assert final == winners[0] and final.version == 2


async def test_concurrent_writers_without_version_lose_no_update(
    database: HandleStore,
) -> None:
    await database.create_handle(NAME, [url(1)], actor="a")
    await asyncio.gather(
        *(database.add_values(NAME, [url(10 + n)], actor=f"w{n}") for n in range(5))
    )
    final = await database.get_handle(NAME)
    assert final is not None and final.version == 6
    assert [v.index for v in final.values] == [1, 10, 11, 12, 13, 14]
    assert (await database.verify_audit()).ok


async def test_paging_is_stable_and_complete(database: HandleStore) -> None:
    names = [f"88.118.8/item-{n:03d}" for n in range(25)]
    for name in reversed(names):
        await database.create_handle(name, [url()], actor="a")
    await database.create_handle("88.118.9/elsewhere", [url()], actor="a")
    pages = [await database.list_handles("88.118.8", page=p, page_size=10) for p in range(4)]
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    assert [name for page in pages for name in page] == names
    assert await database.list_handles("88.118.8", page=1, page_size=10) == pages[1]
    assert await database.count_handles("88.118.8") == 25
    assert await database.count_handles() == 26


async def test_iter_handles_exports_every_record(database: HandleStore) -> None:
    for n in range(7):
        await database.create_handle(f"88.118.8/x{n}", [url(1), url(2 + n)], actor="a")
    await database.create_handle("88.118.8/empty", [], actor="a")
    exported = [r async for r in database.iter_handles("88.118.8", batch=3)]
    assert [r.name for r in exported] == ["88.118.8/empty"] + [f"88.118.8/x{n}" for n in range(7)]
    for record in exported:
        assert record == await database.get_handle(record.name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_stores(
    request: pytest.FixtureRequest, sqlite_url: str
) -> AsyncIterator[tuple[HandleStore, HandleStore]]:
    """Two stores on one database, as two server processes would have."""
    if request.param == "sqlite":
        url, schema = sqlite_url, None
    else:
        pg: PgDatabase = request.getfixturevalue("pg_url")
        url, schema = pg.url, pg.schema
    first = await HandleStore.open(url, schema=schema)
    second = await HandleStore.open(url, schema=schema)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_writers_in_two_processes_chain_one_audit_log(
    two_stores: tuple[HandleStore, HandleStore],
) -> None:
    first, second = two_stores
    await first.create_handle(NAME, [url(1)], actor="a")
    await asyncio.gather(*(
        store.add_values(NAME, [url(10 + n)], actor=f"w{n}")
        for n, store in enumerate([first, second] * 4)
    ))
    record = await second.get_handle(NAME)
    assert record is not None and record.version == 9 and len(record.values) == 9
    report = await first.verify_audit()
    assert report.ok and report.rows == 9


async def test_concurrent_reads_reuse_the_pooled_connections(database: HandleStore) -> None:
    await database.create_handle("88.118.8/POOL", [HandleValue(1, "URL", b"x")], actor="test")
    opened: list[object] = []
    event.listen(database.read_engine.sync_engine, "connect", lambda *_: opened.append(1))
    rounds = []
    for _ in range(3):  # 32 lookups in flight, three times over
        await asyncio.gather(*(database.get_handle("88.118.8/POOL") for _ in range(32)))
        rounds.append(len(opened))
    assert rounds[0] <= POOL_SIZE and rounds[2] == rounds[0]  # none opened after warming
