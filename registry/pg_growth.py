"""Keep PostgreSQL's planner statistics current while a bulk load grows the tables.

A batch of ``bulk_put`` copies its value rows into ``handle_values``, and for every
row PostgreSQL checks the foreign key into ``handles`` with a query it planned once,
on the connection's first batch, and keeps in that backend's plan cache until the
tables' statistics change.  Planned while ``handles`` was nearly empty, that query
is a sequential scan of the handle partition; once the partition holds thousands of
handles every value row reads all of them.  Autovacuum's ANALYZE normally changes
the statistics in time, which invalidates the plan; on a server where autovacuum is
off, or lags behind a fast load, the load slows quadratically (issue 17: a bench load
of 994k demo records on a server with ``autovacuum = off`` fell from 1,547 to 429
records/s within 104k records, ~110k sequential scans of each handle partition
reading 393M rows).

:class:`GrowthWatch` counts the handles a store's bulk writes added and says when
the tables have grown enough since the last ``ANALYZE`` that the store should run
one: after :data:`FIRST_ANALYZE` handles, then each time the count doubles, so a
load of *n* handles analyzes about log2(n / FIRST_ANALYZE) times (each a sample of
each partition, ~1 s at a million handles) whatever the server's autovacuum does.
"""

from __future__ import annotations

from sqlalchemy import text

FIRST_ANALYZE = 20_000
"""Handles a store's bulk writes add before its first ANALYZE."""

ANALYZE = text("ANALYZE handles, handle_values")
"""The statistics that plan the value rows' key checks and the handles' lookups (on a
partitioned table PostgreSQL analyzes every partition too)."""


class GrowthWatch:
    """When a store's bulk writes have grown ``handles`` enough to ANALYZE again."""

    __slots__ = ("added", "analyzed_at", "first")

    def __init__(self, first: int = FIRST_ANALYZE) -> None:
        self.first = first
        #: handles added by this store's bulk writes
        self.added = 0
        #: :attr:`added` when the last ANALYZE ran
        self.analyzed_at = 0

    def grew(self, handles: int) -> bool:
        """Count ``handles`` new handles; whether an ANALYZE is due now (then it counts
        as done: the caller runs it)."""
        self.added += handles
        if self.added - self.analyzed_at < max(self.first, self.analyzed_at):
            return False
        self.analyzed_at = self.added
        return True
