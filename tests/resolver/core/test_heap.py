"""A serving process's collector settings: startup's objects frozen, passes spaced."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from resolver.core.heap import FULL_EVERY, MIDDLE_EVERY, YOUNG_OBJECTS, settle_heap


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_settling_freezes_what_exists_and_spaces_the_passes(restored: None) -> None:
    kept = [[n] for n in range(1000)]  # containers alive at startup
    settle_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (YOUNG_OBJECTS, MIDDLE_EVERY, FULL_EVERY)
    assert YOUNG_OBJECTS > 700  # fewer passes than CPython's default
    garbage: list[object] = []
    garbage.append(garbage)  # a cycle made after settling is still collected
    del garbage
    assert gc.collect() >= 1
