"""The in-flight bound both UDP front ends (Handle, DNS) answer under."""

from __future__ import annotations

import asyncio

from resolver.core.inflight import InFlight


async def test_at_most_limit_tasks_run_and_ended_ones_free_their_place() -> None:
    inflight = InFlight(2)
    release = asyncio.Event()

    async def answer() -> None:
        await release.wait()

    inflight.start(answer())
    assert not inflight.full
    inflight.start(answer())
    assert inflight.full and len(inflight) == 2
    release.set()
    await asyncio.gather(*inflight.tasks)
    await asyncio.sleep(0)  # done callbacks run
    assert len(inflight) == 0 and not inflight.full
