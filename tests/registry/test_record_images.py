"""Record images (protocol/record_image.py) in the registry: every write stores the image
of what it wrote, in the same transaction, on both backends; the migration that added the
column fills it; a point read returns the image, or the rows when there is none."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from protocol.record_image import RecordImage, make_image
from protocol.values import HandleValue, ValueReference
from registry.db import open_engine
from registry.store import HandleStore
from tests.registry.test_migrations import _migrate_to

_VALUES = [
    HandleValue(1, "URL", b"https://example.test/1"),
    HandleValue(2, "EMAIL", b"x@example.test", ttl=60,
                references=(ValueReference("88.118.8/OTHER", 3),)),
    HandleValue(9, "HS_SECKEY", b"s3cret", public_read=False),
]


async def _images(store: HandleStore) -> dict[str, bytes | None]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT name, image FROM handles"))).all()
    return {name: None if image is None else bytes(image) for name, image in rows}


async def _check_images(store: HandleStore) -> dict[str, bytes | None]:
    """Every record's stored image is the image of its values as read from the rows."""
    images = await _images(store)
    for name, image in images.items():
        record = await store.get_handle(name)
        assert record is not None
        assert image == make_image(record.values), name
        decoded = RecordImage.read(image)
        assert decoded is not None and tuple(decoded) == record.values
    return images


async def test_creates_updates_and_bulk_writes_store_the_image_of_what_they_wrote(
    database: HandleStore,
) -> None:
    store = database
    await store.create_handle("88.118.8/A", _VALUES, actor="t")
    await store.create_handle("88.118.8/B", _VALUES[:1], actor="t")
    first = await _check_images(store)
    await store.add_values("88.118.8/A", [HandleValue(5, "DESC", b"five")], actor="t")
    await store.modify_values("88.118.8/B", [HandleValue(1, "URL", b"https://b.test/")],
                              actor="t")
    await store.remove_values("88.118.8/A", [2], actor="t")
    after = await _check_images(store)
    assert after["88.118.8/A"] != first["88.118.8/A"]
    assert after["88.118.8/B"] != first["88.118.8/B"]
    # a bulk write: new records and an overwrite, values without a timestamp stamped
    result = await store.bulk_put([
        ("88.118.8/C", [HandleValue(1, "URL", b"c", timestamp=0)]),
        ("88.118.8/A", [HandleValue(3, "URL", b"a-again", timestamp=0)]),
    ], actor="t", overwrite=True)
    assert (result.inserted, result.replaced) == (1, 1)
    images = await _check_images(store)
    assert len(images) == 3
    stamped = RecordImage.read(images["88.118.8/C"])
    assert stamped is not None and stamped[0].timestamp > 0
    await store.delete_handle("88.118.8/C", actor="t")
    assert "88.118.8/C" not in await _images(store)


async def test_a_failed_write_leaves_the_image_of_the_record_as_it_was(
    database: HandleStore,
) -> None:
    store = database
    await store.create_handle("88.118.8/A", _VALUES, actor="t")
    before = await _images(store)
    try:
        await store.add_values("88.118.8/A", [HandleValue(1, "URL", b"taken")], actor="t")
    except Exception:
        pass
    else:
        raise AssertionError("an existing index was added again")
    assert await _images(store) == before


async def test_values_the_wire_cannot_carry_exactly_are_stored_without_an_image(
    database: HandleStore,
) -> None:
    store = database
    await store.create_handle("88.118.8/BIG", [HandleValue(1, "URL", b"x", ttl=2**32)],
                              actor="t")
    assert await _images(store) == {"88.118.8/BIG": None}


async def test_a_point_read_gives_the_image_and_the_rows_without_one(
    tmp_path: Any,
) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        await store.create_handle("88.118.8/A", _VALUES, actor="t")
        await store.create_handle("88.118.8/BIG", [HandleValue(1, "URL", b"x", ttl=2**32)],
                                  actor="t")
        record = await store.get_handle("88.118.8/A")
        assert record is not None
        read, values = store.get_values_now("88.118.8/a")
        assert read and isinstance(values, RecordImage) and values == record.values
        big = await store.get_handle("88.118.8/BIG")
        assert big is not None
        read, values = store.get_values_now("88.118.8/BIG")
        assert read and type(values) is tuple and values == big.values  # from the rows
        assert store.get_values_now("88.118.8/NONE") == (True, None)
    finally:
        await store.close()


async def test_the_migration_makes_the_image_of_every_record(
    empty_database: tuple[str, str | None],
) -> None:
    url, schema = empty_database
    store = await HandleStore.open(url, schema=schema)
    try:
        for n in range(5):
            await store.create_handle(f"88.118.8/M{n}", _VALUES[n % 3:], actor="t")
        # more records than one of the migration's batches holds
        await store.bulk_put([(f"88.118.8/N{n}", _VALUES[:1 + n % 3]) for n in range(2500)],
                             actor="t")
        written = await _check_images(store)
    finally:
        await store.close()
    assert len(written) == 2505 and None not in written.values()
    await _migrate_to(url, "0016", down=True, schema=schema)
    engine = await open_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            columns = (await conn.execute(text("SELECT * FROM handles LIMIT 1"))).keys()
        assert "image" not in columns
    finally:
        await engine.dispose()
    store = await HandleStore.open(url, schema=schema)  # to head: 0017 fills the column
    try:
        assert await _check_images(store) == written
    finally:
        await store.close()


async def test_a_read_gives_the_image_and_the_rows_without_one(database: HandleStore) -> None:
    store = database
    await store.create_handle("88.118.8/A", _VALUES, actor="t")
    await store.create_handle("88.118.8/BIG", [HandleValue(1, "URL", b"x", ttl=2**32)],
                              actor="t")
    record = await store.get_handle("88.118.8/A")
    big = await store.get_handle("88.118.8/BIG")
    assert record is not None and big is not None
    # several at once: on PostgreSQL one statement for the keys asked meanwhile
    values, rows, missing = await asyncio.gather(
        store.get_values("88.118.8/a"), store.get_values("88.118.8/BIG"),
        store.get_values("88.118.8/NONE"))
    assert isinstance(values, RecordImage) and values == record.values
    assert type(rows) is tuple and rows == big.values
    assert missing is None
    async with store.transaction():  # inside a transaction: its rows
        inside = await store.get_values("88.118.8/A")
        assert type(inside) is tuple and inside == record.values
