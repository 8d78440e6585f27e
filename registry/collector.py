"""Garbage collector settings for processes that hold a large, long-lived heap (issue 17).

CPython's cyclic collector runs a young-generation pass every 700 new container
objects and, every few of those, a pass over an older generation that walks
every object the process holds: the modules, SQLAlchemy's metadata, the
templates, the configuration (some 100,000 objects), none of it garbage.  Two
kinds of work here create containers fast:

* a serving process: a resolution that misses the cache creates a few hundred
  (its values, rows, messages), so the collector ran every few answers; measured
  in-process on cold resolutions, about 100 µs of collector work per answer, a
  third of the CPU;
* a bulk import: a batch holds thousands of records, each a dozen values and
  tuples; the passes kept walking each batch's live records and the start-up
  objects, a quarter to a third of an import's CPU.

Both freeze what exists (:func:`gc.freeze`: never walked again, still freed by
reference counting).  A serving process (:func:`settle_heap`, for good once it
has started) lets the young generation grow to :data:`YOUNG_OBJECTS`
containers between passes (objects that die young are then never walked at
all) and runs the older passes less often.  A file import (:mod:`registry.importer`)
spaces the young passes further, :data:`IMPORT_YOUNG_OBJECTS` containers: the
young objects are its batches (a batch of demo records and the one read ahead
are some 1.5 million containers alive until stored), and passes every 50,000
walked them again and again; freed containers count against the threshold, so
a pass still comes once that many more are alive than at the last one (cyclic
garbage included: a 20,000-record import leaves about 140 objects of it).  The
previous settings come back when the import ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: new container objects between two passes over the young generation (CPython: 700)
YOUNG_OBJECTS = 50_000
#: young passes between two passes over the middle generation (CPython: 10)
MIDDLE_EVERY = 20
#: middle passes between two full passes (CPython: 10; full passes also wait until the
#: objects new since the last one are a quarter of those it walked)
FULL_EVERY = 10

SPACED = (YOUNG_OBJECTS, MIDDLE_EVERY, FULL_EVERY)
"""The thresholds of a serving process (:func:`gc.set_threshold`)."""
#: new container objects (net of those freed) between two young passes during a file
#: import: more than its two batches hold
IMPORT_YOUNG_OBJECTS = 2_000_000

_active: list[tuple[int, int, int]] = []  # the thresholds to restore, one per open block


def settle_heap() -> None:
    """Collect, freeze what startup built and space the collector's passes; for a
    serving process, once it has started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SPACED)


@contextmanager
def few_collections(young: int = YOUNG_OBJECTS) -> Iterator[None]:
    """Run the block with objects alive at its start frozen and the passes spaced:
    ``young`` new containers between young passes (a file import:
    :data:`IMPORT_YOUNG_OBJECTS`); the previous settings come back when the outermost
    such block ends."""
    if not _active:
        gc.freeze()
        previous = gc.get_threshold()
        gc.set_threshold(young, MIDDLE_EVERY, FULL_EVERY)
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
