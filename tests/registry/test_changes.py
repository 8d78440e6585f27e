"""The change feed: every write path notes its handles in its own transaction, in order."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from protocol.values import HandleValue
from registry import changes
from registry.changes import ChangeRow
from registry.errors import ConcurrentModification, HandleAlreadyExists
from registry.models import Change, table_of
from registry.store import HandleStore

TV = "88.118.8/TV-0001"


def url(text: str = "https://example.test/tv", index: int = 1) -> HandleValue:
    return HandleValue(index, "URL", text.encode())


async def entries(store: HandleStore, after: int) -> list[tuple[str, str]]:
    return [(row.handle, row.kind) for row in await store.changes_since(after)]


async def test_every_handle_write_notes_the_handle(database: HandleStore) -> None:
    start = await database.last_change()
    await database.create_handle(TV, [url()], actor="a")
    await database.replace_handle(TV, [url("https://b")], actor="a")
    await database.add_values(TV, [url("https://c", 2)], actor="a")
    await database.modify_values(TV, [url("https://d", 2)], actor="a")
    await database.remove_values(TV, [2], actor="a")
    await database.delete_handle(TV, actor="a")
    assert await entries(database, start) == [(TV, "handle")] * 6
    rows = await database.changes_since(start)
    assert [r.seq for r in rows] == sorted({r.seq for r in rows})
    assert await database.last_change() == rows[-1].seq


async def test_a_bulk_batch_notes_its_stored_handles_only(database: HandleStore) -> None:
    await database.create_handle(TV, [url()], actor="a")
    start = await database.last_change()
    result = await database.bulk_put([(TV, [url()]), ("88.118.8/TV-0002", [url()])], actor="i")
    assert len(result.rejected) == 1  # TV exists, no overwrite
    assert await entries(database, start) == [("88.118.8/TV-0002", "handle")]


async def test_prefix_changes_note_the_prefix_handle(database: HandleStore) -> None:
    start = await database.last_change()
    await database.create_prefix("88.118.9")
    await database.set_prefix_kind("88.118.9", "delegated")
    await database.set_prefix_status("88.118.9", "suspended")
    await database.delete_prefix("88.118.9")
    assert await entries(database, start) == [("0.NA/88.118.9", "prefix")] * 4


async def test_a_failed_write_notes_nothing(database: HandleStore) -> None:
    await database.create_handle(TV, [url()], actor="a")
    start = await database.last_change()
    with pytest.raises(HandleAlreadyExists):
        await database.create_handle(TV, [url()], actor="a")
    with pytest.raises(ConcurrentModification):
        await database.replace_handle(TV, [url()], actor="a", expected_version=9)
    assert await database.changes_since(start) == []


async def test_old_entries_are_pruned_by_a_write_once_in_a_while(
    database: HandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await database.create_handle(TV, [url()], actor="a")
    table = table_of(Change)
    async with database.engine.begin() as conn:
        old = changes.utcnow() - timedelta(seconds=changes.RETENTION_SECONDS + 1)
        await conn.execute(update(table).values(time=old))
    monkeypatch.setattr(changes, "_pruned", time.monotonic())  # pruned just now: not again
    await database.create_handle("88.118.8/TV-0003", [url()], actor="a")
    assert [r.handle for r in await database.changes_since(0)] == [TV, "88.118.8/TV-0003"]
    await database.delete_handle("88.118.8/TV-0003", actor="a")
    async with database.engine.begin() as conn:
        await conn.execute(update(table).values(time=old))
    monkeypatch.setattr(changes, "_pruned", time.monotonic() - changes.PRUNE_SECONDS)
    await database.create_handle("88.118.8/TV-0002", [url()], actor="a")
    rows = await database.changes_since(0)
    assert [(r.handle, r.kind) for r in rows] == [("88.118.8/TV-0002", "handle")]
    assert isinstance(rows[0], ChangeRow) and rows[0].seq == 4  # numbers never repeat


async def test_changes_since_reads_in_batches(database: HandleStore) -> None:
    await database.bulk_put([(f"88.118.8/B-{i}", [url()]) for i in range(5)], actor="i")
    first = await database.changes_since(0, limit=3)
    rest = await database.changes_since(first[-1].seq, limit=3)
    assert [r.handle for r in first + rest] == [f"88.118.8/B-{i}" for i in range(5)]


async def test_the_feed_is_polled_without_sqlalchemy_outside_a_transaction(
        database: HandleStore) -> None:
    """Every serving process polls the feed four times a second: a point read on the
    backend's own driver (a prepared statement on PostgreSQL), not a pooled SQLAlchemy one."""
    await database.bulk_put([(f"88.118.8/P-{i}", [url()]) for i in range(3)], actor="i")
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    engines = {database.engine.sync_engine, database.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        before = database.query_count
        assert [r.handle for r in await database.changes_since(0)] == [
            f"88.118.8/P-{i}" for i in range(3)]
        assert await database.changes_since(10**9) == []
        assert (statements, database.query_count - before) == (0, 2)
        async with database.transaction():  # inside one: on its connection, as before
            assert len(await database.changes_since(0)) == 3
        assert statements >= 1
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def test_the_prune_goes_by_seq_and_never_deletes_a_recent_row(
    database: HandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no index on time: the rows before the first recent one go, whatever comes after
    monkeypatch.setattr(changes, "_pruned", time.monotonic())
    for i in range(4):
        await database.create_handle(f"88.118.8/P-{i}", [url()], actor="a")
    seqs = [r.seq for r in await database.changes_since(0)]
    old = changes.utcnow() - timedelta(seconds=changes.RETENTION_SECONDS + 1)
    table = table_of(Change)
    async with database.engine.begin() as conn:
        # P-1 recent; P-2 stamped old after it (another process's clock)
        await conn.execute(update(table).where(table.c.seq.in_([seqs[0], seqs[2]]))
                           .values(time=old))
    monkeypatch.setattr(changes, "_pruned", time.monotonic() - changes.PRUNE_SECONDS)
    await database.create_handle("88.118.8/P-4", [url()], actor="a")
    assert [r.handle for r in await database.changes_since(0)] == [
        f"88.118.8/P-{i}" for i in (1, 2, 3, 4)]


async def test_numbers_never_repeat_once_every_row_is_pruned(
    database: HandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await database.create_handle(TV, [url()], actor="a")
    table = table_of(Change)
    old = changes.utcnow() - timedelta(seconds=changes.RETENTION_SECONDS + 1)
    for name in ("88.118.8/N-1", "88.118.8/N-2"):
        async with database.engine.begin() as conn:
            await conn.execute(update(table).values(time=old))
        monkeypatch.setattr(changes, "_pruned", time.monotonic() - changes.PRUNE_SECONDS)
        await database.create_handle(name, [url()], actor="a")
    rows = await database.changes_since(0)
    assert [(r.seq, r.handle) for r in rows] == [(3, "88.118.8/N-2")]
