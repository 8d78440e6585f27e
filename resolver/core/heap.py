"""Garbage collector settings for a serving process.

CPython's cyclic collector runs a young-generation pass every 700 new container
objects and, now and then, a full pass over every object the process holds.  A
serving process holds a large, long-lived heap (the modules, the configuration,
the SQLAlchemy and aiohttp machinery: some 100,000 objects) and a cache that
grows with every answer; a resolution that misses the cache creates a few
hundred containers (its values, rows, messages), so the collector ran every few
answers and each full pass walked the whole heap again.  Measured in-process on
cold resolutions (issue 17): about 100 µs of collector work per answer, a third
of the CPU.

:func:`settle_heap`, called once the process has started, collects what startup
left behind and moves every surviving object to the permanent generation
(``gc.freeze``: never walked again, still freed by reference counting), then
lets the young generation grow to :data:`YOUNG_OBJECTS` containers between
passes (objects that die young are then never walked at all) and runs the older
passes less often.  Reference cycles are still collected, later: what they hold
stays bounded by the thresholds.
"""

from __future__ import annotations

import gc

#: new container objects between two passes over the young generation (CPython: 700)
YOUNG_OBJECTS = 50_000
#: young passes between two passes over the middle generation (CPython: 10)
MIDDLE_EVERY = 20
#: middle passes between two full passes (CPython: 10; full passes also wait until the
#: objects new since the last one are a quarter of those it walked)
FULL_EVERY = 10


def settle_heap() -> None:
    """Collect, freeze what startup built and space the collector's passes (see the
    module docstring); for a serving process, once it has started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, MIDDLE_EVERY, FULL_EVERY)
