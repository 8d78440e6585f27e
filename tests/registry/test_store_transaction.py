"""A store write's transaction (``StoreBase.transaction``): its own or the open one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from protocol.values import HandleValue
from registry.store import HandleStore

VALUE = HandleValue(1, "URL", b"https://example.test")


class Told:
    """The store's change hook: what it was told, in order."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, handles: Sequence[str]) -> None:
        self.calls.append(list(handles))


async def test_a_write_commits_then_tells_what_it_changed(database: HandleStore) -> None:
    told = Told()
    database.on_change = told
    await database.create_handle("88.118.8/a", [VALUE], actor="t")
    assert told.calls == [["88.118.8/a"]]
    assert await database.get_handle("88.118.8/a") is not None


async def test_a_failed_write_rolls_back_and_tells_nothing(database: HandleStore) -> None:
    told = Told()
    database.on_change = told
    with pytest.raises(LookupError):
        async with database.transaction() as conn:
            assert database._open_tx.get() is not None
            assert (await database.transaction().__aenter__()) is conn  # joins
            database._open_tx.get().changed.append("88.118.8/b")  # type: ignore[union-attr]
            raise LookupError("refused")
    assert database._open_tx.get() is None
    assert told.calls == []
    await database.create_handle("88.118.8/b", [VALUE], actor="t")  # the lock is free
    assert told.calls == [["88.118.8/b"]]


async def test_writes_inside_a_transaction_join_it(database: HandleStore) -> None:
    """Two creates inside an open transaction are its own: seen by nobody else until it
    commits, told once then, and both gone when it fails."""
    told = Told()
    database.on_change = told
    async with database.transaction():
        await database.create_handle("88.118.8/c", [VALUE], actor="t")
        await database.create_handle("88.118.8/d", [VALUE], actor="t")
        assert told.calls == []
    assert told.calls == [["88.118.8/c", "88.118.8/d"]]
    with pytest.raises(LookupError):
        async with database.transaction():
            await database.create_handle("88.118.8/e", [VALUE], actor="t")
            raise LookupError("undo")
    assert await database.get_handle("88.118.8/e") is None
    assert told.calls == [["88.118.8/c", "88.118.8/d"]]
    assert (await database.verify_audit()).ok
