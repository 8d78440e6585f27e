"""few_collections: rare young collections and a frozen start during an import, the
collector as it was afterwards (nested blocks too), cyclic garbage still collected."""

from __future__ import annotations

import gc
import weakref

from registry.bulk_gc import YOUNG_THRESHOLD, few_collections


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_settings_come_back_after_nested_blocks() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with few_collections():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen
        with few_collections():
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_cycles_made_inside_are_still_collected() -> None:
    with few_collections():
        cycle = _Node()
        alive = weakref.ref(cycle)
        del cycle
        kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # enough for a young collection
        assert alive() is None
        assert len(kept) == 2 * YOUNG_THRESHOLD
