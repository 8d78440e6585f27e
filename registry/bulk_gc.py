"""Fewer garbage collections while a bulk import runs (issue 17).

An import holds a batch or two of new objects at a time (thousands of records,
each a dozen values and tuples).  With the collector's default thresholds a
collection of the young generation runs every 700 allocations and, every few of
those, one of the older generations: each walks the batch's live objects and
everything the interpreter loaded at start (SQLAlchemy's metadata, the
templates...), none of it garbage.  That was a quarter to a third of an
import's CPU time.  :func:`few_collections` freezes what exists when the import
starts (:func:`gc.freeze`: those objects are no longer walked) and collects the
young generation every :data:`YOUNG_THRESHOLD` allocations instead; cyclic
garbage is still collected, only less often.  The previous settings come back
when the outermost such block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000
_OLDER_THRESHOLDS = (20, 20)
_active: list[tuple[int, int, int]] = []  # the thresholds to restore, one per open block


@contextmanager
def few_collections() -> Iterator[None]:
    """Run the block with objects alive at its start frozen and young collections rare."""
    if not _active:
        gc.freeze()
        previous = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, *_OLDER_THRESHOLDS)
    else:
        previous = _active[0]
    _active.append(previous)
    try:
        yield
    finally:
        _active.pop()
        if not _active:
            gc.set_threshold(*previous)
            gc.unfreeze()
