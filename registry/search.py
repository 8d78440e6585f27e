"""Finding handles by a piece of their name, a page at a time (for the console's lists)."""

from __future__ import annotations

from sqlalchemy import func, select

from registry.base import StoreBase
from registry.models import Handle, table_of
from registry.names import name_key

_H = table_of(Handle)


class SearchMixin(StoreBase):
    """Handle name search within prefixes."""

    async def search_handles(
        self, prefixes: list[str], text: str = "", *, page: int = 0, page_size: int = 50
    ) -> tuple[list[str], int]:
        """Names under ``prefixes`` containing ``text`` (any case), one page, and the total."""
        where = [_H.c.prefix.in_([name_key(p) for p in prefixes])]
        if text:
            escaped = name_key(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(_H.c.name_key.like(f"%{escaped}%", escape="\\"))
        names = (select(_H.c.name).where(*where).order_by(_H.c.name_key)
                 .limit(page_size).offset(page * page_size))
        count = select(func.count()).select_from(_H).where(*where)
        async with self._read() as conn:
            found = list((await conn.execute(names)).scalars())
            total = int((await conn.execute(count)).scalar_one())
        return found, total
