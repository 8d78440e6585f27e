"""A bound on the requests one UDP listener works on at once (Handle and DNS alike).

A datagram costs the sender nothing, so each UDP front end answers at most
``limit`` requests at a time (``Limits.max_udp_inflight``, from the node's
``max_inflight_requests``); a datagram arriving while that many are in flight
is refused the front end's way (RC_SERVER_TOO_BUSY, or dropped for DNS).
The tasks are held here so they are not garbage collected while running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class InFlight:
    """The running answer tasks of one listener, at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def full(self) -> bool:
        """Whether a new request must be refused."""
        return len(self.tasks) >= self.limit

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task held until it ends (check :attr:`full` first)."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
