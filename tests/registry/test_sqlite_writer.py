"""A SQLite store writes on one held connection: taken from the pool once, lent to one
transaction at a time, replaced after it failed, and not carried into another event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from protocol.values import HandleValue
from registry.errors import HandleAlreadyExists
from registry.store import HandleStore

URL = [HandleValue(1, "URL", b"https://example.com/")]


async def test_writes_share_one_connection_and_a_failed_one_leaves_it_usable(
    tmp_path: Path, trips: list[str]
) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert store._writer is not None
        for i in range(5):
            await store.create_handle(f"88.118.8/W-{i}", URL, actor="t")
        with pytest.raises(HandleAlreadyExists):
            await store.create_handle("88.118.8/w-3", URL, actor="t")
        trips.clear()
        await store.create_handle("88.118.8/W-5", URL, actor="t")
        assert trips == []  # no trip a create (registry.sqlite_driver.OneTripConnection.call_now)
        assert store._writer.connections == 1
        assert await store.count_handles("88.118.8") == 6
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


async def test_concurrent_writes_of_one_process_take_turns(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        names = [f"88.118.8/C-{i}" for i in range(20)]
        await asyncio.gather(*(store.create_handle(n, URL, actor="t") for n in names))
        async with store.transaction():  # a transaction of several writes holds it throughout
            await store.create_handle("88.118.8/T-1", URL, actor="t")
            await store.delete_handle("88.118.8/C-0", actor="t")
        assert await store.count_handles("88.118.8") == 20
        assert await store.get_handle("88.118.8/C-0") is None
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


async def test_an_invalidated_connection_is_replaced(tmp_path: Path) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert store._writer is not None
        await store.create_handle("88.118.8/I-1", URL, actor="t")
        held = store._writer._conn
        assert held is not None
        await held.invalidate()
        await store.create_handle("88.118.8/I-2", URL, actor="t")
        assert store._writer.connections == 2
        assert await store.count_handles("88.118.8") == 2
    finally:
        await store.close()


def test_another_event_loop_gets_its_own_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"

    async def first() -> HandleStore:
        store = await HandleStore.open(url)
        await store.create_handle("88.118.8/L-1", URL, actor="t")
        return store

    store = asyncio.run(first())

    async def second() -> int:
        try:
            await store.create_handle("88.118.8/L-2", URL, actor="t")
            assert store._writer is not None
            assert store._writer.connections == 2
            assert store.engine.pool.checkedout() == 1  # the first loop's went back
            return await store.count_handles("88.118.8")
        finally:
            await store.close()

    assert asyncio.run(second()) == 2


async def test_a_failed_commit_raises_sqlalchemys_error_and_rolls_back(tmp_path: Path) -> None:
    # the writes' transactions end on the driver (OneTripConnection.commit_async): a
    # deferred insert of a name taken fails the commit as SQLAlchemy's IntegrityError,
    # the store's sign of a concurrent create
    from sqlalchemy.exc import IntegrityError

    from registry import sqlite_driver
    from registry.models import AuditLog, table_of

    store = await HandleStore.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        await store.create_handle("88.118.8/F-1", URL, actor="t")
        head = (await store.audit_entries(newest=True, limit=1))[0]
        row = {"seq": head.seq, "time": head.time, "actor": "t", "action": "x",
               "handle": None, "before": None, "after": None, "detail": {},
               "prev_hash": "0", "row_hash": "0"}
        with pytest.raises(IntegrityError):
            async with store.transaction(), store._write() as conn:
                await store.create_handle("88.118.8/F-2", URL, actor="t")
                prepared = sqlite_driver.prepared_insert(conn.dialect, table_of(AuditLog),
                                                         tuple(row))
                (await sqlite_driver.adapted(conn)).defer(
                    lambda db: db.execute(prepared.sql, prepared.params(row)))
        assert await store.get_handle("88.118.8/F-2") is None
        await store.create_handle("88.118.8/F-3", URL, actor="t")
        assert store._writer is not None and store._writer.connections == 1
        assert (await store.verify_audit()).ok
    finally:
        await store.close()
