"""registry.homing: homed prefixes are hosted registrations, and nothing else changes."""

from __future__ import annotations

import pytest

from registry import homing
from registry.store import HandleStore


def test_prefix_names() -> None:
    assert homing.prefix_of("0.NA/88.118.20") == homing.prefix_of("88.118.20") == "88.118.20"
    assert homing.prefix_of("0.na/88.118.20") == "88.118.20"
    for bad in ("88.118.8/x", "0.NA/", "20.500/0.NA"):
        with pytest.raises(ValueError, match="not a prefix handle"):
            homing.prefix_of(bad)


async def test_home_and_unhome_are_idempotent_and_keep_handles(database: HandleStore) -> None:
    await database.create_handle("88.118.20/a", [], actor="test")
    await homing.home(database, "88.118.20", actor="t")
    await homing.home(database, "88.118.20", actor="t")
    assert await homing.homed(database) == ["0.NA/88.118.20"]
    await homing.unhome(database, "88.118.20", actor="t")
    await homing.unhome(database, "88.118.20", actor="t")
    assert await homing.homed(database) == []
    assert await database.get_handle("88.118.20/a") is not None
