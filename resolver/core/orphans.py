"""Helper processes that end with the process that started them, even after ``kill -9``.

``idnode serve --workers N`` starts worker processes (they share challenges
and sessions through the registry, :mod:`resolver.core.auth_sessions`).
Killed with SIGKILL, the parent runs no cleanup, so each worker must notice
by itself: :func:`die_with_parent` asks Linux to send
it SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and checks the
parent did not die before the request was in place.  Elsewhere it does
nothing.  (A hand-written ``ctypes`` call: no maintained package wraps just
this, and ``python-prctl`` needs a C build.)
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Linux: get ``sig`` when the parent process dies; exit now if it already has
    (its pid ``parent`` is gone: this process was re-parented)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
