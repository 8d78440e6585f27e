"""PostgreSQL streaming replicas that take the store's resolution reads.

``database_read_urls`` lists one or more hot standbys of the primary
(``pg_basebackup -R``).  :class:`ReadReplicas` keeps an engine per replica
and a background check (:meth:`ReadReplicas.run`, every ``check_seconds``)
that measures each one's lag against the primary and takes it out of use
when it is unreachable, not a standby, or more than ``max_lag`` seconds
behind; a checked replica that caught up is used again.  A read that fails
on a replica marks it down at once and is answered by the primary
(:meth:`registry.store.HandleStore.get_handle`), so a dying replica costs no
request.

Lag is measured the usual way: none when the replica has replayed the WAL
position the primary had at the check (``pg_current_wal_lsn`` vs
``pg_last_wal_replay_lsn``), else the age of the last transaction it
replayed (``pg_last_xact_replay_timestamp``); the byte distance is reported
too.  Between checks a replica in use is at most :attr:`ReadReplicas.bound`
seconds behind (``max_lag`` + ``check_seconds``).

Only resolution reads go to replicas (the resolution stack asks with
``replica=True``); writes, the reads inside a write, operator and console
reads, and the change feed stay on the primary.  A handle written within
:attr:`ReadReplicas.bound` seconds is read from the primary
(:meth:`ReadReplicas.wrote`, called when a cache drops it): a replica could
still hand back the record the write replaced and the cache would keep it.
At most :data:`RECENT_LIMIT` handles are remembered; past that every read
goes to the primary for one bound.

The health checks are hand-written (a few queries) because no maintained
library routes SQLAlchemy reads to PostgreSQL standbys by measured lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from registry.db import POOL_OVERFLOW, POOL_SIZE, normalise_url

log = logging.getLogger(__name__)

RECENT_LIMIT = 100_000
"""Recently written handles remembered for primary reads (see module doc)."""
CONNECT_TIMEOUT = 2.0
"""Seconds to reach a replica before it counts as down."""
STATEMENT_TIMEOUT = 5.0
"""Seconds a replica may take for one read before it counts as down."""

_PRIMARY_LSN = text("SELECT pg_current_wal_lsn()::text")
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery(),"
    " pg_wal_lsn_diff(CAST(CAST(:lsn AS text) AS pg_lsn), pg_last_wal_replay_lsn()),"
    " extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
)


def safe_url(url: str) -> str:
    """``url`` with any password masked (for status and logs)."""
    return normalise_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    """The driver's own error for ``exc`` in one short line (SQLAlchemy's repeats the SQL)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0] if text else ''}"[:200]


@dataclass(slots=True)
class Replica:
    """One replica: its engine, what the last check found, and reads it served."""

    url: str
    engine: AsyncEngine
    healthy: bool = False
    problem: str = "not checked yet"
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    reads: int = 0
    checked_at: float = field(default=0.0)

    def describe(self) -> dict[str, Any]:
        """The replica's state for ``idnode status`` and logs."""
        return {
            "url": self.url, "in_use": self.healthy, "problem": self.problem,
            "lag_seconds": self.lag_seconds, "lag_bytes": self.lag_bytes, "reads": self.reads,
        }


def _replica_engine(url: str, schema: str | None) -> AsyncEngine:
    settings = {"jit": "off", "default_transaction_read_only": "on"}
    if schema is not None:
        settings["search_path"] = schema
    return create_async_engine(
        normalise_url(url),
        connect_args={"server_settings": settings, "timeout": CONNECT_TIMEOUT,
                      "command_timeout": STATEMENT_TIMEOUT},
        hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
        pool_pre_ping=False, isolation_level="AUTOCOMMIT",
    )


class ReadReplicas:
    """The replicas of one store, their health, and which one a read goes to."""

    def __init__(
        self,
        primary: AsyncEngine,
        urls: Sequence[str],
        *,
        schema: str | None = None,
        max_lag: float = 5.0,
        check_seconds: float = 1.0,
    ) -> None:
        if primary.dialect.name != "postgresql":
            raise ValueError("database_read_urls: read replicas need a PostgreSQL primary")
        if max_lag <= 0 or check_seconds <= 0:
            raise ValueError("database_read_max_lag and database_read_check_seconds "
                             "must be positive")
        self.primary = primary
        self.replicas = [Replica(safe_url(url), _replica_engine(url, schema)) for url in urls]
        self.max_lag = max_lag
        self.check_seconds = check_seconds
        self._turn = itertools.count()
        self._recent: dict[str, float] = {}
        self._all_until = 0.0

    @property
    def bound(self) -> float:
        """Seconds a replica in use may be behind the primary at most."""
        return self.max_lag + self.check_seconds

    # --- choosing ------------------------------------------------------------------

    def wrote(self, keys: Iterable[str], *, everything: bool = False) -> None:
        """Read the handles with lookup ``keys`` (all when ``everything``) from the
        primary for the next :attr:`bound` seconds."""
        now = time.monotonic()
        until = now + self.bound
        if everything:
            self._all_until = until
            return
        for key in keys:
            self._recent[key] = until
        if len(self._recent) > RECENT_LIMIT:
            self._recent = {k: t for k, t in self._recent.items() if t > now}
            if len(self._recent) > RECENT_LIMIT:
                self._recent.clear()
                self._all_until = until

    def pick(self, key: str) -> Replica | None:
        """The replica to read lookup ``key`` from, or None for the primary."""
        now = time.monotonic()
        if now < self._all_until:
            return None
        until = self._recent.get(key)
        if until is not None:
            if now < until:
                return None
            del self._recent[key]
        healthy = [r for r in self.replicas if r.healthy]
        if not healthy:
            return None
        return healthy[next(self._turn) % len(healthy)]

    def failed(self, replica: Replica, exc: BaseException) -> None:
        """Take ``replica`` out after a read failed on it (the next check may bring it back)."""
        if replica.healthy:
            log.warning("read replica %s failed, reading from the others or the primary: %s",
                        replica.url, exc)
        replica.healthy = False
        replica.problem = f"read failed: {_reason(exc)}"

    # --- checking ------------------------------------------------------------------

    async def check(self) -> None:
        """Measure every replica's lag now and take in or out the ones that changed."""
        try:
            async with self.primary.connect() as conn:
                lsn = str((await conn.execute(_PRIMARY_LSN)).scalar_one())
        except Exception as exc:  # no primary position: keep the replicas' state as it is
            log.warning("read replicas: the primary's WAL position is unknown: %s", exc)
            return
        await asyncio.gather(*(self._check_one(r, lsn) for r in self.replicas))

    async def _check_one(self, replica: Replica, lsn: str) -> None:
        was = replica.healthy
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT + STATEMENT_TIMEOUT):
                async with replica.engine.connect() as conn:
                    row = (await conn.execute(_REPLICA_STATE, {"lsn": lsn})).one()
        except Exception as exc:
            replica.healthy, replica.lag_seconds, replica.lag_bytes = False, None, None
            replica.problem = f"unreachable: {_reason(exc)}"
        else:
            self._judge(replica, bool(row[0]), row[1], row[2])
        replica.checked_at = time.time()
        if was != replica.healthy:
            if replica.healthy:
                log.info("read replica %s in use again", replica.url)
            else:
                log.warning("read replica %s taken out: %s", replica.url, replica.problem)

    def _judge(self, replica: Replica, standby: bool, behind: Any, age: Any) -> None:
        """Set ``replica``'s lag and health from one check (see the module doc)."""
        replica.lag_bytes = max(0, int(behind)) if behind is not None else None
        caught_up = behind is not None and behind <= 0
        lag = 0.0 if caught_up else (max(0.0, float(age)) if age is not None else None)
        replica.lag_seconds = lag
        if not standby:
            replica.healthy, replica.problem = False, "not a standby (pg_is_in_recovery false)"
        elif lag is None:
            replica.healthy, replica.problem = False, "has replayed nothing yet"
        elif lag > self.max_lag:
            replica.healthy, replica.problem = False, f"lags {lag:.1f} s (> {self.max_lag} s)"
        else:
            replica.healthy, replica.problem = True, ""

    async def run(self) -> None:
        """Check every :attr:`check_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self.check_seconds)
            await self.check()

    # --- reporting -----------------------------------------------------------------

    def in_use(self) -> int:
        """How many replicas take reads now."""
        return sum(r.healthy for r in self.replicas)

    def max_lag_seen(self) -> float:
        """The largest lag the last check measured on a reachable replica (0 if none)."""
        return max((r.lag_seconds or 0.0 for r in self.replicas), default=0.0)

    def describe(self) -> list[dict[str, Any]]:
        """Every replica's state."""
        return [r.describe() for r in self.replicas]

    async def close(self) -> None:
        """Close every replica connection."""
        for replica in self.replicas:
            with contextlib.suppress(Exception):
                await replica.engine.dispose()
