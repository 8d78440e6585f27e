"""The collector settings of registry.collector: for an import (few_collections: rare
young collections and a frozen start, the collector as it was afterwards, nested blocks
too) and for a serving process (settle_heap); cyclic garbage still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from registry.collector import (
    IMPORT_YOUNG_OBJECTS,
    SPACED,
    YOUNG_OBJECTS,
    few_collections,
    settle_heap,
)


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_settings_come_back_after_nested_blocks() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with few_collections():
        assert gc.get_threshold()[0] == YOUNG_OBJECTS
        assert gc.get_freeze_count() > frozen
        with few_collections():
            assert gc.get_threshold()[0] == YOUNG_OBJECTS
        assert gc.get_threshold()[0] == YOUNG_OBJECTS
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_a_file_import_spaces_the_young_passes_beyond_its_batches() -> None:
    before = gc.get_threshold()
    with few_collections(IMPORT_YOUNG_OBJECTS):
        assert gc.get_threshold() == (IMPORT_YOUNG_OBJECTS, *SPACED[1:])
        with few_collections():  # a nested block keeps the outer one's settings
            assert gc.get_threshold()[0] == IMPORT_YOUNG_OBJECTS
        cycle = _Node()
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()  # cycles made inside are still garbage to a pass
        assert alive() is None
    assert gc.get_threshold() == before
    assert IMPORT_YOUNG_OBJECTS > YOUNG_OBJECTS


def test_cycles_made_inside_are_still_collected() -> None:
    with few_collections():
        cycle = _Node()
        alive = weakref.ref(cycle)
        del cycle
        kept = [[] for _ in range(2 * YOUNG_OBJECTS)]  # enough for a young collection
        assert alive() is None
        assert len(kept) == 2 * YOUNG_OBJECTS


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
    assert gc.get_threshold() == SPACED
    assert YOUNG_OBJECTS > 700  # fewer passes than CPython's default
    garbage: list[object] = []
    garbage.append(garbage)  # a cycle made after settling is still collected
    del garbage
    assert gc.collect() >= 1
