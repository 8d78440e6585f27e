"""What keeping challenges and sessions in the registry database costs, per step.

Run: ``.venv/bin/python -m benchmarks.auth_state_cost [--postgresql URL]``.  For
each state (this process; the registry on SQLite; on PostgreSQL when a URL is
given) it times, in wall-clock microseconds per operation over ``ROUNDS``
rounds: one Handle challenge-response (issue, then take), binding a session to
its identity, one request inside a Handle session (get, use_counter,
next_counter), and one REST request resuming a session (get); and, for scale,
what the registry's own work on an authenticated write costs: one handle
created (``create_handle``: the transaction every Handle ADD/CREATE runs) and
one handle read.  A measurement, not a test: numbers vary with the machine and
its load.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.auth_sessions import (
    HANDLE,
    AuthState,
    Challenges,
    DatabaseAuthState,
    MemoryAuthState,
    Sessions,
)
from resolver.core.model import Caller

ROUNDS = 300
ADMIN = Caller("0.NA/88.118.8", 300)


async def _per_op(step: Callable[[int], Awaitable[object]]) -> float:
    start = time.perf_counter()
    for i in range(ROUNDS):
        await step(i)
    return (time.perf_counter() - start) * 1e6 / ROUNDS


async def measure(state: AuthState) -> dict[str, float]:
    """Microseconds per step for ``state``."""
    challenges = Challenges(state, 30.0)
    sessions = Sessions(state, HANDLE, lifetime=600)
    session = await sessions.open(b"k" * 32)
    sid = session.session_id

    async def challenge(_i: int) -> None:
        opened = await challenges.issue(b"n" * 16, 3, b"d" * 32, b"request" * 20)
        assert await challenges.take(opened.session_id) is not None

    async def bind(_i: int) -> None:
        await sessions.authenticate(sid, ADMIN, b"fingerprint")

    async def in_session(i: int) -> None:
        assert await sessions.get(sid) is not None
        assert await sessions.use_counter(sid, i + 1)
        await sessions.next_counter(sid)

    async def resume(_i: int) -> None:
        assert await sessions.get(sid) is not None

    return {"challenge-response": await _per_op(challenge), "bind": await _per_op(bind),
            "in-session request": await _per_op(in_session), "resume": await _per_op(resume)}


async def registry_reference(store: HandleStore) -> dict[str, float]:
    """Microseconds of one handle created and one handle read in ``store``."""
    value = [HandleValue(index=1, type="URL", data=b"https://example.com/")]
    run = uuid.uuid4().hex[:8]

    async def create(i: int) -> None:
        await store.create_handle(f"88.888/{run}-{i}", value, actor="benchmark")

    async def read(i: int) -> None:
        assert await store.get_handle(f"88.888/{run}-{i}") is not None

    return {"handle created": await _per_op(create), "handle read": await _per_op(read)}


async def main(postgresql: str | None) -> None:
    """Print one line per state and step."""
    results = {"memory": await measure(MemoryAuthState())}
    with tempfile.TemporaryDirectory() as folder:
        store = await HandleStore.open(f"sqlite:///{folder}/registry.db")
        try:
            results["sqlite"] = await measure(DatabaseAuthState(store))
            results["sqlite reg."] = await registry_reference(store)
        finally:
            await store.close()
    if postgresql:
        schema = f"bench_{uuid.uuid4().hex[:12]}"  # its own schema, dropped afterwards
        store = await HandleStore.open(postgresql, schema=schema)
        try:
            results["postgresql"] = await measure(DatabaseAuthState(store))
            results["pg reg."] = await registry_reference(store)
        finally:
            async with store.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await store.close()
    for name, steps in results.items():
        print(name.ljust(11), "  ".join(f"{step} {us:8.0f} us" for step, us in steps.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", help="a PostgreSQL URL whose database may get the table")
    asyncio.run(main(parser.parse_args().postgresql))
