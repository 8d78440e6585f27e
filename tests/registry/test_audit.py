"""The audit hash chain: every write logged, tampering found at the right row."""

from __future__ import annotations

from sqlalchemy import text

from protocol.values import HandleValue
from registry.audit import row_hash
from registry.records import AuditEntry
from registry.store import HandleStore

NAME = "88.118.8/TV-0001"


async def write_some(store: HandleStore) -> None:
    await store.create_handle(NAME, [HandleValue(1, "URL", b"a")], actor="alice")
    await store.add_values(NAME, [HandleValue(2, "URL", b"b")], actor="bob")
    await store.remove_values(NAME, [1], actor="carol")
    await store.delete_handle(NAME, actor="dave")


async def test_every_write_is_logged_in_order(database: HandleStore) -> None:
    await write_some(database)
    entries = await database.audit_entries(handle=NAME)
    assert [(e.seq, e.actor, e.action) for e in entries] == [
        (1, "alice", "create"), (2, "bob", "add_values"), (3, "carol", "remove_values"),
        (4, "dave", "delete")]
    assert entries[0].before is None and entries[-1].after is None
    assert entries[1].before == entries[0].after
    assert entries[2].before == entries[1].after
    report = await database.verify_audit()
    assert report.ok and report.rows == 4
    assert [e.seq for e in await database.audit_entries(after_seq=2, limit=1)] == [3]
    assert [e.seq for e in await database.audit_entries(newest=True, limit=2)] == [3, 4]
    newest_of_handle = await database.audit_entries(handle=NAME, newest=True, limit=3)
    assert [e.actor for e in newest_of_handle] == ["bob", "carol", "dave"]


async def test_empty_log_verifies(database: HandleStore) -> None:
    assert (await database.verify_audit()).ok


async def test_a_row_edited_through_sql_is_found(database: HandleStore) -> None:
    await write_some(database)
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    report = await database.verify_audit()
    assert not report.ok and report.first_bad_seq == 2 and report.rows == 1


async def test_a_deleted_row_is_found(database: HandleStore) -> None:
    await write_some(database)
    async with database.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    report = await database.verify_audit()
    assert report.first_bad_seq == 4 and report.reason == "row 3 is missing"


async def test_reordered_rows_are_found(database: HandleStore) -> None:
    await write_some(database)
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET seq = 100 WHERE seq = 2"))
        await conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        await conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 100"))
    assert (await database.verify_audit()).first_bad_seq == 2


async def test_a_forged_row_with_a_fresh_hash_breaks_the_next_link(
    database: HandleStore,
) -> None:
    await write_some(database)
    [entry] = await database.audit_entries(after_seq=1, limit=1)
    forged = AuditEntry(entry.seq, entry.time, "mallory", entry.action, entry.handle,
                        entry.before, entry.after, entry.detail)
    async with database.engine.begin() as conn:
        prev = (await conn.execute(text("SELECT prev_hash FROM audit_log WHERE seq = 2"))).scalar()
        await conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', row_hash = :h WHERE seq = 2"),
            {"h": row_hash(2, entry.time, forged, prev)},
        )
    report = await database.verify_audit()
    assert (report.first_bad_seq, report.reason) == (3, "prev_hash does not link")
