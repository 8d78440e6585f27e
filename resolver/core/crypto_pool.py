"""Where the node spends CPU on cryptography that anyone can ask for.

Checking a challenge answer (PBKDF2, RSA/DSA signatures) and answering a
Diffie-Hellman session setup cost milliseconds each, and the client asking has
not proven anything yet.  Done on the event loop, a few of them froze every
front end (issue 18 F2-F4); done on asyncio's default thread pool, they queued
in front of everything else that uses it.  A :class:`CryptoPool` runs them on
its own few threads and admits at most ``max_pending`` at once: the next one is
refused at once with RC_SERVER_TOO_BUSY instead of queueing, so a flood costs
the node at most ``workers`` busy threads and bounded latency for the honest
client, who retries.  What one job may cost is bounded by its caller (see
:mod:`resolver.core.service`: PBKDF2 work and keys tried per answer).

Work asked for from an address nothing proved (a UDP datagram: anyone can
send one in a victim's name, at no cost) is admitted in a lane of its own,
``max_spoofable`` jobs at most, so a UDP flood never takes the slots of
clients that came over TCP or HTTP.

``jobs`` and ``refused`` count what was run and turned away (tests, metrics).
A hand-written class: ``concurrent.futures`` has no admission limit and
``asyncio.Semaphore`` would queue instead of refusing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from protocol.constants import RC_SERVER_TOO_BUSY

T = TypeVar("T")

DEFAULT_WORKERS = 2
DEFAULT_MAX_PENDING = 8
THREAD_PREFIX = "idnode-crypto"


class CryptoBusy(Exception):
    """Every slot of the pool is taken: answer RC_SERVER_TOO_BUSY."""

    response_code = RC_SERVER_TOO_BUSY


class CryptoPool:
    """A few threads for CPU-bound checks, with a bounded number of jobs admitted."""

    def __init__(self, workers: int = DEFAULT_WORKERS, max_pending: int = DEFAULT_MAX_PENDING,
                 max_spoofable: int | None = None) -> None:
        self.workers = max(1, workers)
        self.max_pending = max(self.workers, max_pending)
        self.max_spoofable = max(1, self.max_pending // 4 if max_spoofable is None
                                 else min(max_spoofable, self.max_pending))
        self._executor: ThreadPoolExecutor | None = None
        self.pending = 0
        self.pending_spoofable = 0
        self.jobs = 0
        self.refused = 0

    async def run(self, fn: Callable[..., T], *args: object, spoofable: bool = False) -> T:
        """``fn(*args)`` on a pool thread; :class:`CryptoBusy` when the pool (or, for
        ``spoofable`` work, its lane) is full."""
        if self.pending >= self.max_pending or (
            spoofable and self.pending_spoofable >= self.max_spoofable
        ):
            self.refused += 1
            raise CryptoBusy(f"{self.pending} cryptographic checks already in progress")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=THREAD_PREFIX)
        self.pending += 1
        self.pending_spoofable += spoofable
        self.jobs += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self.pending -= 1
            self.pending_spoofable -= spoofable

    def close(self) -> None:
        """Stop the threads (jobs running finish first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
