"""Taking long-lived objects that can never be in a reference cycle out of the cyclic
garbage collector's sight (issue 17).

The answer cache keeps, for every record it holds, an answer, a tuple of values, a
value object per value (about fifteen for a demo product record) and the record's
pre-encoded forms: some twenty container objects per cached record, none of them ever
garbage of the kind the cyclic collector looks for (they hold numbers, strings, bytes
and tuples of those; dropping an entry frees them by reference counting).  Tracked, they
cost the serving process twice: every young pass walked the records cached since the
last one (a pass every ~2,200 cold answers, 13-31 ms with the event loop stopped), and
the older passes walked the whole cache, ever longer as it filled.

CPython has no Python-level way to create such objects untracked (every instance of a
class written in Python is tracked; only plain tuples and dicts of untracked items are
untracked by the collector, and only when a pass meets them), so this calls the C API's
``PyObject_GC_UnTrack`` through :mod:`ctypes`: about 0.2 µs an object.  An untracked
object is still freed by reference counting as before; only a reference cycle through
it would never be collected, which is why callers pass only objects that cannot be in
one.  Objects that are not tracked (strings, bytes, the empty tuple, ...) are left
alone: the C function must only see objects the collector knows.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterable

_untrack = ctypes.pythonapi.PyObject_GC_UnTrack
_untrack.argtypes = (ctypes.py_object,)
_untrack.restype = None
_tracked = gc.is_tracked


def untrack(objects: Iterable[object]) -> None:
    """Take ``objects`` out of the cyclic collector's sight; none of them may be (or
    ever become) part of a reference cycle: hold only what cannot lead back to them."""
    for obj in objects:
        if _tracked(obj):
            _untrack(obj)
