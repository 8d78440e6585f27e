"""A record changed within a write keeps its expiry unless that moves by EXPIRY_STEP or
more (a new expiry rewrites an index entry: one more page for every create), on both
backends; a shorter expiry is always written."""

from __future__ import annotations

import pytest

from registry.auth_state import EXPIRY_STEP, AuthSlot
from registry.store import HandleStore

NOW = 1_000_000.0
KEY = "k" * 64


async def _change(store: HandleStore, expires: float, data: bytes) -> AuthSlot | None:
    async with store.transaction():
        await store.auth_change_within(
            KEY, lambda live: None if live is None else AuthSlot(live.pool, expires, data), NOW)
    return await store.auth_get(KEY, NOW)


@pytest.mark.parametrize(("moved", "kept"), [
    (0.0, True), (EXPIRY_STEP / 2, True), (EXPIRY_STEP, False), (-EXPIRY_STEP / 2, False),
])
async def test_a_small_move_keeps_the_expiry_and_the_data_changes(
    database: HandleStore, moved: float, kept: bool,
) -> None:
    start = NOW + 600
    assert await database.auth_add(KEY, AuthSlot("handle-proven", start, b"a"), 10, NOW)
    after = await _change(database, start + moved, b"b")
    assert after == AuthSlot("handle-proven", start if kept else start + moved, b"b")
