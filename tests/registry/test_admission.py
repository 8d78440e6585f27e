"""Ownership of handles (registry.admission): a create's one handle as a batch sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import sqlite_driver
from registry.admission import (
    Ownership,
    _candidates,
    _owning_chain,
    _with_owners_sqlite,
    load_owners,
    owners_query_sqlite,
)
from registry.store import HandleStore

KEYS = [
    "88.118.8/a",  # under an enterprise's registered prefix
    "88.118.8.1.2/b",  # under a prefix derived from it, not registered
    "0.na/88.118.8",  # the registered prefix's own prefix handle
    "0.na/88.118.8.1",  # a derived prefix handle: its owner's too, counted
    "88.118.9/c",  # a prefix registered without an owner
    "88.118.7/d",  # registered, its owner's enterprise suspended
    "88.118.6/e",  # registered, its owner with a quota
    "99.1/f",  # no prefix registered above it
    "0.na/99.1",  # the prefix handle of an unregistered prefix
    "0.na/",  # the prefix handle of no prefix
]


@pytest.mark.parametrize("key", KEYS)
async def test_one_handle_has_the_ownership_a_batch_gives_it(tmp_path: Path, key: str) -> None:
    """``load_owners`` of a create's one key from its read rows: the same owner (code,
    status, quota, usage counted), prefix-handle flag and registered prefix as when the
    key comes among others (the batch path)."""
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'owners.db'}")
    try:
        for code, quota in (("ACME", None), ("SLEEPY", None), ("FULL", 2)):
            await store.add_enterprise(code, code.title(), industry="appliance", quota=quota)
        await store.create_prefix("88.118.8", owner="ACME")
        await store.create_prefix("88.118.9")
        await store.create_prefix("88.118.7", owner="SLEEPY")
        await store.create_prefix("88.118.6", owner="FULL")
        await store.set_enterprise_status("SLEEPY", "suspended")
        await store.create_handle("88.118.6/used", [], actor="t")
        others = ["88.118.8/zz", "88.118.6/zz", "99.2/zz"]
        async with store.transaction(), store._write() as conn:
            query = owners_query_sqlite([key])
            candidates = _candidates({key: _owning_chain(key)})
            assert query == (_with_owners_sqlite(len(candidates)), tuple(candidates))
            rows = (await sqlite_driver.fetch_each(conn, [query]))[0]
            one = await load_owners(conn, [key], sqlite_rows=rows)
            batch_query = owners_query_sqlite([key, *others])
            assert batch_query is not None
            batch_rows = (await sqlite_driver.fetch_each(conn, [batch_query]))[0]
            batch = await load_owners(conn, [key, *others], sqlite_rows=batch_rows)
            generic = await load_owners(conn, [key])  # reads its own rows
        assert list(one) == [key]
        assert _seen(one[key]) == _seen(batch[key]) == _seen(generic[key])
    finally:
        await store.close()


def _seen(ownership: Ownership) -> tuple[object, ...]:
    owner = ownership.owner
    return (ownership.is_prefix_handle, ownership.prefix,
            None if owner is None else (owner.code, owner.status, owner.quota, owner.used))
