"""Who owns a new handle, and may it be written: enterprise status and quota.

A handle belongs to the enterprise that owns its prefix (``prefixes.owner``).
Loading the owners locks their enterprise rows for the rest of the
transaction (PostgreSQL ``FOR UPDATE``; SQLite holds the write lock anyway), so
two concurrent creates cannot both take the last unit of a quota.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.errors import EnterpriseSuspended, QuotaExceeded
from registry.models import Enterprise, Handle, Prefix, table_of

_P = table_of(Prefix)
_E = table_of(Enterprise)
_H = table_of(Handle)


@dataclass(slots=True)
class Owner:
    """An enterprise as seen by one writing transaction; ``used`` grows with admits."""

    code: str
    status: str
    quota: int | None
    used: int

    def check_writable(self) -> None:
        """Raise :class:`EnterpriseSuspended` unless the enterprise is active."""
        if self.status != "active":
            raise EnterpriseSuspended(f"enterprise {self.code} is {self.status}")

    def admit(self) -> None:
        """Count one more handle, or raise if suspended or over quota."""
        self.check_writable()
        if self.quota is not None and self.used >= self.quota:
            raise QuotaExceeded(f"enterprise {self.code} holds its quota of {self.quota} handles")
        self.used += 1


async def load_owners(conn: AsyncConnection, prefixes: Iterable[str]) -> dict[str, Owner]:
    """The owner of each of ``prefixes`` (keys) that has one, locked, with its usage."""
    wanted = sorted(set(prefixes))
    if not wanted:
        return {}
    query = (
        select(_P.c.name, _E.c.code, _E.c.status, _E.c.quota)
        .select_from(_P.join(_E, _E.c.code == _P.c.owner))
        .where(_P.c.name.in_(wanted))
        .order_by(_E.c.code)
        .with_for_update(of=_E)
    )
    rows = (await conn.execute(query)).all()
    owners: dict[str, Owner] = {}
    for row in rows:
        if row.code not in owners:
            owners[row.code] = Owner(row.code, row.status, row.quota, 0)
    limited = [code for code, owner in owners.items() if owner.quota is not None]
    if limited:
        counts = select(_H.c.enterprise, func.count()).where(_H.c.enterprise.in_(limited))
        for code, used in await conn.execute(counts.group_by(_H.c.enterprise)):
            owners[code].used = used
    return {row.name: owners[row.code] for row in rows}
