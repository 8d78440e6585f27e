"""Where-used across nodes, the registry side: the outbox every write fills and the
back-links other nodes registered here.

A record's ``TRACE.COMPONENT`` / ``TRACE.BATCH`` link to a handle under a
prefix this node does not host (no registered prefix, or the nearest one is
delegated) cannot be found from the part's side by the part's home node: its
``handle_links`` index holds only links stored there.  So the write that adds
or drops such a link also queues, in its own transaction, a row in
``backlink_outbox`` (``add`` or ``remove``, the newest change of one
product/part/relation replacing an older undelivered one): nothing is lost if
the part's home is down, the process stops, or the write came from the CLI.
:mod:`resolver.core.backlinks` delivers the rows, signed, to the part's home
and deletes each once taken; a failed delivery stays with a later ``next_try``.

The part's home keeps what it was sent in ``backlinks``: one row per
product/part/relation with the JWS it came in, the node that signed it and
when; a withdrawal keeps the row inactive, so an older ``add`` replayed later
cannot bring it back.  :meth:`BacklinksMixin.backlinks_many` is the read
behind where-used and the recall list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.base import StoreBase
from registry.errors import InvalidHandle
from registry.models import Backlink, BacklinkOutbox, Prefix, table_of, utcnow
from registry.names import name_key, parent_prefixes, split_handle

_B = table_of(Backlink)
_O = table_of(BacklinkOutbox)
_P = table_of(Prefix)
_CHUNK = 2000
ADD, REMOVE = "add", "remove"
#: what :meth:`BacklinksMixin.store_backlink` answers
STORED, WITHDRAWN, STALE, FULL = "stored", "withdrawn", "stale", "full"

Link = tuple[str, str]   # (to handle, relation)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One back-link still to register (``op`` add) or withdraw (remove) at ``part``'s home."""

    product: str
    part: str
    relation: str
    op: str
    queued: datetime
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class ReceivedBacklink:
    """A back-link another node signed: ``product`` (homed there) contains ``part`` (here)."""

    part: str
    product: str
    relation: str
    op: str
    origin: str        # the signing node as it names itself
    server: str        # host:port of the server whose key verified the signature
    signed_at: datetime
    jws: str

    @property
    def product_prefix(self) -> str:
        return name_key(split_handle(self.product)[0])


@dataclass(frozen=True, slots=True)
class BacklinkInfo:
    """An active back-link as where-used reads it."""

    product: str
    relation: str
    origin: str
    server: str
    signed_at: datetime


@lru_cache(maxsize=8192)
def _prefix_of(handle: str) -> str | None:
    """The name key of ``handle``'s prefix, None if it is not a handle name (asked for
    each link of a batch more than once)."""
    try:
        return name_key(split_handle(handle)[0])
    except InvalidHandle:
        return None


async def remote_prefixes(conn: AsyncConnection, prefixes: Iterable[str]) -> set[str]:
    """The name keys among ``prefixes`` that this node does not host: no registered prefix
    is it or an ancestor of it, or the nearest registered one is delegated."""
    wanted = {name_key(p) for p in prefixes}
    candidates = sorted({c for p in wanted for c in (p, *parent_prefixes(p))})
    kinds: dict[str, str] = {}
    for start in range(0, len(candidates), _CHUNK):
        query = select(_P.c.name, _P.c.kind).where(
            _P.c.name.in_(candidates[start:start + _CHUNK]))
        kinds.update({name_key(name): kind for name, kind in await conn.execute(query)})
    remote = set()
    for prefix in wanted:
        nearest = next((kinds[c] for c in (prefix, *parent_prefixes(prefix)) if c in kinds),
                       None)
        if nearest != "hosted":
            remote.add(prefix)
    return remote


async def queue_changes(
    conn: AsyncConnection, changes: Sequence[tuple[str, Sequence[Link], Sequence[Link]]]
) -> None:
    """Queue the back-links that ``(product, old links, new links)`` adds and drops to
    parts homed elsewhere (links to parts hosted here are the ``handle_links`` index's)."""
    wanted: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # -> product, part, op
    for product, old, new in changes:
        if not old and not new:
            continue
        product_key = name_key(product)
        if not old:  # a new record's links (every record of an import): all added
            for to, relation in new:
                wanted[(product_key, name_key(to), relation)] = (product, to, ADD)
            continue
        before = {(name_key(to), relation): to for to, relation in old}
        after = {(name_key(to), relation): to for to, relation in new}
        for op, keys, names in ((REMOVE, before.keys() - after.keys(), before),
                                (ADD, after.keys() - before.keys(), after)):
            for part_key, relation in keys:
                wanted[(product_key, part_key, relation)] = (
                    product, names[(part_key, relation)], op)
    if not wanted:
        return
    # a bulk write's products share their parts: each part's prefix once
    prefix_of = {part: _prefix_of(part) for _product, part, _op in wanted.values()}
    remote = await remote_prefixes(conn, {p for p in prefix_of.values() if p})
    if not remote:
        return
    now = utcnow()
    rows = [{"product_key": product_key, "part_key": part_key, "relation": relation,
             "product_handle": product, "part_handle": part, "op": op, "queued": now,
             "next_try": now, "attempts": 0, "last_error": ""}
            for (product_key, part_key, relation), (product, part, op) in wanted.items()
            if prefix_of[part] in remote]
    for row in rows:
        await conn.execute(delete(_O).where(_O.c.product_key == row["product_key"],
                                            _O.c.part_key == row["part_key"],
                                            _O.c.relation == row["relation"]))
    if rows:
        await conn.execute(insert(_O), rows)


def _same_item(item: OutboxItem) -> object:
    return and_(_O.c.product_key == name_key(item.product), _O.c.part_key == name_key(item.part),
                _O.c.relation == item.relation, _O.c.op == item.op, _O.c.queued == item.queued)


_BACKLINKS = (
    select(_B.c.part_key, _B.c.product_handle, _B.c.relation, _B.c.origin, _B.c.server,
           _B.c.signed_at)
    .where(_B.c.part_key.in_(bindparam("keys", expanding=True)), _B.c.active.is_(True))
    .order_by(_B.c.part_key, _B.c.product_key, _B.c.relation)
)


class BacklinksMixin(StoreBase):
    """The outbox of back-links to send and the table of back-links received."""

    async def due_backlinks(self, *, limit: int, now: datetime | None = None
                            ) -> list[OutboxItem]:
        """Outbox rows whose ``next_try`` has come, oldest first (at most ``limit``)."""
        query = (select(_O).where(_O.c.next_try <= (now or utcnow()))
                 .order_by(_O.c.next_try).limit(limit))
        return await self._outbox(query)

    async def backlink_outbox(self, *, limit: int = 1000) -> list[OutboxItem]:
        """Every undelivered back-link (at most ``limit``), oldest first."""
        return await self._outbox(select(_O).order_by(_O.c.queued).limit(limit))

    async def _outbox(self, query: object) -> list[OutboxItem]:
        async with self._read() as conn:
            rows = await conn.execute(query)  # type: ignore[call-overload]
            return [OutboxItem(r.product_handle, r.part_handle, r.relation, r.op, r.queued,
                               r.attempts, r.last_error) for r in rows]

    async def backlinks_delivered(self, items: Iterable[OutboxItem]) -> None:
        """Drop delivered rows (not one a later write queued again meanwhile)."""
        async with self._write() as conn:
            for item in items:
                await conn.execute(delete(_O).where(_same_item(item)))  # type: ignore[arg-type]

    async def backlinks_failed(self, items: Iterable[OutboxItem], error: str,
                               next_try: datetime) -> None:
        """Keep undelivered rows for another try at ``next_try``, saying why they failed."""
        async with self._write() as conn:
            for item in items:
                await conn.execute(
                    update(_O).where(_same_item(item))  # type: ignore[arg-type]
                    .values(attempts=_O.c.attempts + 1, last_error=error[:255],
                            next_try=next_try))

    async def store_backlink(self, link: ReceivedBacklink, *, max_per_prefix: int) -> str:
        """Keep (``add``) or withdraw (``remove``) a verified back-link; :data:`STALE` when
        a newer one of the same product/part/relation is here already, :data:`FULL` when
        the product's prefix has ``max_per_prefix`` active ones."""
        key = (name_key(link.part), name_key(link.product), link.relation)
        where = and_(_B.c.part_key == key[0], _B.c.product_key == key[1],
                     _B.c.relation == key[2])
        async with self.transaction() as conn:
            current = (await conn.execute(select(_B.c.signed_at, _B.c.active).where(where))
                       ).first()
            if current is not None and current.signed_at > link.signed_at:
                return STALE
            if link.op == ADD and (current is None or not current.active):
                count = (await conn.execute(
                    select(func.count()).select_from(_B).where(
                        _B.c.product_prefix == link.product_prefix, _B.c.active.is_(True))
                )).scalar_one()
                if count >= max_per_prefix:
                    return FULL
            await conn.execute(delete(_B).where(where))
            await conn.execute(insert(_B), {
                "part_key": key[0], "product_key": key[1], "relation": key[2],
                "part_handle": link.part, "product_handle": link.product,
                "product_prefix": link.product_prefix, "origin": link.origin,
                "server": link.server, "signed_at": link.signed_at, "received": utcnow(),
                "active": link.op == ADD, "jws": link.jws})
        return STORED if link.op == ADD else WITHDRAWN

    async def backlinks_many(self, handles: Iterable[str]) -> dict[str, list[BacklinkInfo]]:
        """``{name_key(part): [BacklinkInfo, ...]}``: the active back-links to each handle
        given (one indexed query per :data:`_CHUNK` handles; handles without any absent)."""
        keys = sorted({name_key(h) for h in handles})
        found: dict[str, list[BacklinkInfo]] = {}
        async with self._read() as conn:
            for start in range(0, len(keys), _CHUNK):
                rows = await conn.execute(_BACKLINKS, {"keys": keys[start:start + _CHUNK]})
                for part_key, product, relation, origin, server, signed_at in rows:
                    found.setdefault(part_key, []).append(
                        BacklinkInfo(product, relation, origin, server, signed_at))
        return found
