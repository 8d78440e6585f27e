"""Traceability rules and the where-used index, applied inside every write transaction.

The store calls :func:`on_write` (one record) and the bulk loader
:func:`check_records` / :func:`link_records` (a batch) inside the write's own
transaction, so REST, the Handle protocol, the CLI and ``idnode import`` all
obey the same rules and the ``handle_links`` index never disagrees with the
values it is built from:

* a record carrying ``TRACE.TEMPLATE`` must match its template (a built-in one
  or one an operator stored in ``data_templates``): ``TRACE.DATA`` validates
  against the JSON Schema and the mapped field and link values say what the
  document says.  A failure is :class:`~registry.templates.TemplateError`
  (RC_INVALID_VALUE) whose message names each field by JSON pointer and the
  rule it breaks, e.g. ``/energy_grade: 'X' is not one of [...] (enum)``;
* ``TRACE.EVENT`` values are well formed and append-only
  (:func:`registry.events.check_append_only`);
* the outgoing links of the record (``TRACE.COMPONENT`` / ``TRACE.BATCH``,
  :func:`registry.templates.links_of`) replace its rows in ``handle_links``
  (a link value that is not a handle name is kept but not indexed), each with
  the tier of its value (:mod:`registry.tiers`; the least strict when one link
  is named by several values).

:class:`LinksMixin` gives the store :meth:`~LinksMixin.where_used_many`, the
one-query-per-level read behind transitive where-used; a :class:`LinkView`
says which links the reader may see (that product X contains part Y is
itself data: a partners-only link shows only to the owner of X and its
partners).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.values import HandleValue
from registry import backlinks, sqlite_driver
from registry.base import StoreBase
from registry.errors import InvalidHandle, InvalidValue
from registry.events import EVENT_TYPE, check_append_only, check_event
from registry.models import DataTemplate, Handle, HandleLink, HandleValueRow, table_of
from registry.names import name_key, split_handle
from registry.templates import (
    TYPE_TEMPLATE,
    Template,
    TemplateError,
    load_builtin_templates,
    template_from_json,
    values_to_document,
)
from registry.templates.mapping import LINK_RELATIONS
from registry.tiers import PARTNERS, PUBLIC, TIERS, partner_indexes, tier_of
from registry.valuerows import VALUE_COLUMNS, row_value

_L = table_of(HandleLink)
_T = table_of(DataTemplate)
_V = table_of(HandleValueRow)
_H = table_of(Handle)
_VALUE_COLUMNS = tuple(_V.c[name] for name in VALUE_COLUMNS)
_CHUNK = 2000
#: the value types :func:`check_records` checks (a record holding neither passes)
CHECKED_TYPES = frozenset((EVENT_TYPE, TYPE_TEMPLATE))
_ORDER = (_L.c.to_key, _L.c.from_key, _L.c.relation)
_KEYS = _L.c.to_key.in_(bindparam("keys", expanding=True))
_USERS = select(_L.c.to_key, _L.c.from_handle, _L.c.relation).where(_KEYS).order_by(*_ORDER)
_PUBLIC_USERS = (select(_L.c.to_key, _L.c.from_handle, _L.c.relation)
                 .where(_KEYS, _L.c.tier == PUBLIC).order_by(*_ORDER))
_TIERED_USERS = (
    select(_L.c.to_key, _L.c.from_handle, _L.c.relation, _L.c.tier, _H.c.enterprise)
    .select_from(_L.outerjoin(_H, _H.c.name_key == _L.c.from_key))
    .where(_KEYS).order_by(*_ORDER)
)

Values = Mapping[int, HandleValue]
Link = tuple[str, str, str]   # (to handle, relation, tier)
#: a ``handle_links`` row: (from_key, from_handle, to_key, to_handle, relation, tier)
LinkRow = tuple[str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class LinkView:
    """Which where-used links a reader sees: the public ones, every one from records
    of enterprise ``own``, and the partners-only ones from records of the enterprises
    in ``partner_of`` (those that granted the reader partner access)."""

    own: str | None = None
    partner_of: frozenset[str] = frozenset()

    def sees(self, tier: str, owner: str | None) -> bool:
        """Whether a link of ``tier`` from a record of ``owner`` shows to this reader."""
        if tier == PUBLIC:
            return True
        if owner is None:
            return False
        return owner == self.own or (tier == PARTNERS and owner in self.partner_of)


PUBLIC_LINKS = LinkView()


def tiered_links(values: Collection[HandleValue]) -> list[Link]:
    """``(to, relation, tier)`` of the record's links (as
    :func:`registry.templates.links_of` lists them: index order, no repeats), each with
    the least strict tier of the values naming it."""
    found = [v for v in values if v.type in LINK_RELATIONS]
    if not found:
        return []
    found.sort(key=_index)
    # the partner marker matters only to links that are not public (tier_of)
    listed = (partner_indexes(values) if not all(v.public_read for v in found)
              else frozenset())
    ranks: dict[tuple[str, str], int] = {}
    for v in found:
        key = (v.data.decode("utf-8", "replace"), LINK_RELATIONS[v.type])
        rank = _RANKS[tier_of(v, listed)]
        if rank < ranks.get(key, len(TIERS)):
            ranks[key] = rank
    return [(to, relation, TIERS[rank]) for (to, relation), rank in ranks.items()]


def _index(value: HandleValue) -> int:
    return value.index


_RANKS = {tier: rank for rank, tier in enumerate(TIERS)}


@lru_cache(maxsize=128)
def _parsed(text: str) -> Template:
    return template_from_json(text, source="data_templates")


class TemplateBook:
    """Templates by ``name@version``: the built-in ones, then ``data_templates`` rows."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.known: dict[str, Template | None] = dict(load_builtin_templates())

    async def find(self, template_id: str) -> Template | None:
        """The template ``template_id`` names, or None if there is none."""
        if template_id not in self.known:
            self.known[template_id] = await self._stored(template_id)
        return self.known[template_id]

    async def _stored(self, template_id: str) -> Template | None:
        name, _, version = template_id.rpartition("@")
        if not name or not version.isdigit():
            return None
        query = select(_T.c.schema).where(_T.c.name == name, _T.c.version == int(version))
        text = (await self.conn.execute(query)).scalar()
        return None if text is None else _parsed(text)


def _trace_state(values: Iterable[HandleValue]) -> list[tuple[int, str, bytes]]:
    """The traceability values other than events, to tell whether a write touched them."""
    return sorted((v.index, v.type, v.data) for v in values
                  if v.type.startswith("TRACE.") and v.type != EVENT_TYPE)


def _derived_problems(template: Template, document: Mapping[str, object],
                      values: list[HandleValue]) -> list[str]:
    """Mapped field and link values that do not say what ``TRACE.DATA`` says."""
    field_of = template.mapped_types
    expected = template.mapped_pairs(document)
    actual = [(v.type, v.data) for v in values if v.type in field_of]
    if expected == actual or (len(expected) == len(actual) and sorted(expected) == sorted(actual)):
        # the same pairs, as many times each (what every good record has; in the same
        # order when the template made it: values in index order, fields then links)
        return []
    extra = Counter(actual)
    extra.subtract(expected)
    wrong = sorted({vtype for (vtype, _), count in extra.items() if count})
    return [f"/{field_of[t]}: the {t} values differ from TRACE.DATA (mapping)" for t in wrong]


async def check_template(book: TemplateBook, values: list[HandleValue]) -> None:
    """Raise :class:`TemplateError` unless a record with ``TRACE.TEMPLATE`` matches it."""
    if not any(v.type == TYPE_TEMPLATE for v in values):
        return
    template_id, document = values_to_document(values)
    template = await book.find(template_id)
    if template is None:
        raise TemplateError(f"TRACE.TEMPLATE names no known template: {template_id!r} "
                            "(add it with 'idnode template add')")
    template.validate(document)
    found = _derived_problems(template, document, values)
    if found:
        raise TemplateError(f"record does not match {template.id}", found)


def check_events(old: Values | None, new: Values) -> None:
    """New or changed ``TRACE.EVENT`` values parse; ``old`` events are all kept as they were."""
    if old:
        check_append_only(old.values(), new.values())
    for index, value in new.items():
        if value.type == EVENT_TYPE and (old is None or old.get(index) != value):
            check_event(value)


async def on_write(conn: AsyncConnection, name: str, old: Values | None, new: Values) -> None:
    """Check the record a write leaves and bring its rows in ``handle_links`` up to date."""
    check_events(old, new)
    if old is None or _trace_state(old.values()) != _trace_state(new.values()):
        await check_template(TemplateBook(conn), list(new.values()))
    links = tiered_links(new.values())
    if old is None and not links:
        return
    before = [] if old is None else tiered_links(old.values())
    if old is None or before != links:
        await conn.execute(delete(_L).where(_L.c.from_key == name_key(name)))
        await _insert_links(conn, [link_rows(name, links)])
        await backlinks.queue_changes(conn, [(name, _published(before), _published(links))])


async def on_delete(conn: AsyncConnection, name: str, old: Values) -> None:
    """Drop the links of a record being deleted (and withdraw its back-links elsewhere)."""
    await conn.execute(delete(_L).where(_L.c.from_key == name_key(name)))
    await backlinks.queue_changes(conn, [(name, _published(tiered_links(old.values())), [])])


async def check_records(
    conn: AsyncConnection, records: Iterable[tuple[str, Values]]
) -> dict[str, str]:
    """``{handle: reason}`` for each new record of a batch that breaks a rule."""
    book: TemplateBook | None = None
    bad: dict[str, str] = {}
    for name, values in records:
        if not any(v.type in CHECKED_TYPES for v in values.values()):
            continue  # neither an event nor a template: nothing to check
        book = book or TemplateBook(conn)
        try:
            check_events(None, values)
            await check_template(book, list(values.values()))
        except InvalidValue as exc:  # TemplateError, EventError
            bad[name] = str(exc)
    return bad


async def rewritten_events(
    conn: AsyncConnection, replaced: Iterable[tuple[int, str, Values]]
) -> dict[str, str]:
    """``{handle: reason}`` for each ``(handle id, handle, new values)`` of a batch that
    would drop or change one of the events the handle has now."""
    todo = {hid: (name, values) for hid, name, values in replaced}
    ids = sorted(todo)
    old: dict[int, list[HandleValue]] = {}
    for start in range(0, len(ids), _CHUNK):
        query = select(_V.c.handle_id, *_VALUE_COLUMNS).where(
            _V.c.handle_id.in_(ids[start:start + _CHUNK]), _V.c.type == EVENT_TYPE)
        for row in await conn.execute(query):
            old.setdefault(row[0], []).append(row_value(row, 1))
    bad: dict[str, str] = {}
    for hid, events in old.items():
        name, values = todo[hid]
        try:
            check_append_only(events, values.values())
        except InvalidValue as exc:
            bad[name] = str(exc)
    return bad


async def link_records(
    conn: AsyncConnection, records: Iterable[tuple[str, Values]], *, replaced: Iterable[str] = (),
    laid_out: Mapping[str, LaidOutLinks] | None = None,
) -> None:
    """Write the links of a batch; ``replaced`` handles lose their old links first.
    ``laid_out``: a record's links and rows made already (:func:`lay_out_links`), by
    name (a bulk write makes them before its transaction)."""
    made = laid_out or {}
    keys = [name_key(n) for n in replaced]
    before: dict[str, list[Link]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        query = select(_L.c.from_key, _L.c.to_handle, _L.c.relation, _L.c.tier).where(
            _L.c.from_key.in_(chunk))
        for from_key, to, relation, tier in await conn.execute(query):
            before.setdefault(from_key, []).append((to, relation, tier))
        await conn.execute(delete(_L).where(_L.c.from_key.in_(chunk)))
    # a record without links now or before has nothing to index or queue
    after = [(name, links) for name, values in records
             if (links := (made[name].links if name in made else tiered_links(values.values())))
             or (before and name_key(name) in before)]
    await _insert_links(conn, [made[name].rows if name in made else link_rows(name, links)
                               for name, links in after])
    await backlinks.queue_changes(conn, [
        (name, _published(before.get(name_key(name), [])),
         made[name].published if name in made else _published(links)) for name, links in after])


def _published(links: Iterable[Link]) -> list[tuple[str, str]]:
    """The links other nodes are told of as back-links: those naming a handle, and
    public (a restricted link stays on this node, shown only to those it may show to)."""
    return [(to, relation) for to, relation, tier in links if tier == PUBLIC and _is_handle(to)]


@lru_cache(maxsize=8192)
def _is_handle(text: str) -> bool:
    """Whether a link value names a handle (anything else is not indexed; a batch asks
    up to three times per link, and products share their parts' batches)."""
    try:
        split_handle(text)
    except InvalidHandle:
        return False
    return True


class LaidOutLinks(NamedTuple):
    """A record's links (:func:`tiered_links`), its ``handle_links`` rows and the links
    other nodes are told of (:func:`_published`)."""

    links: list[Link]
    rows: list[LinkRow]
    published: list[tuple[str, str]]


def lay_out_links(name: str, values: Collection[HandleValue]) -> LaidOutLinks:
    """The links of the record ``name``, the rows they are stored as and those published."""
    links = tiered_links(values)
    return LaidOutLinks(links, link_rows(name, links), _published(links))


def link_rows(name: str, links: list[Link]) -> list[LinkRow]:
    """The ``handle_links`` rows of the record ``name`` (:data:`_LINK_COLUMNS`): one a
    handle and relation it links to."""
    rows: list[LinkRow] = []
    from_key = name_key(name)
    seen: set[tuple[str, str]] = set()
    for to, relation, tier in links:
        key = (name_key(to), relation)
        if key in seen or not _is_handle(to):
            continue
        seen.add(key)
        rows.append((from_key, name, key[0], to, relation, tier))
    return rows


async def _insert_links(conn: AsyncConnection, records: Iterable[list[LinkRow]]) -> None:
    rows = [row for rows in records for row in rows]
    if conn.dialect.name == "sqlite":  # one executemany of tuples (a bulk write's many)
        await sqlite_driver.insert_records(conn, _L, _LINK_COLUMNS, rows)
        return
    for start in range(0, len(rows), _CHUNK * 5):
        await conn.execute(insert(_L), [dict(zip(_LINK_COLUMNS, row, strict=True))
                                        for row in rows[start:start + _CHUNK * 5]])


_LINK_COLUMNS = ("from_key", "from_handle", "to_key", "to_handle", "relation", "tier")


class LinksMixin(StoreBase):
    """Batched where-used reads over the ``handle_links`` index."""

    async def where_used_many(
        self, handles: Iterable[str], view: LinkView | None = None
    ) -> dict[str, list[tuple[str, str]]]:
        """``{name_key(to): [(from_handle, relation), ...]}`` for every handle given,
        the links ``view`` shows (every link when None: the operator's CLI).

        One indexed query per :data:`_CHUNK` handles; handles nothing uses are absent.
        """
        keys = sorted({name_key(h) for h in handles})
        found: dict[str, list[tuple[str, str]]] = {}
        query = _USERS if view is None else _PUBLIC_USERS if view == PUBLIC_LINKS else (
            _TIERED_USERS)
        async with self._read() as conn:
            for start in range(0, len(keys), _CHUNK):
                rows = await conn.execute(query, {"keys": keys[start:start + _CHUNK]})
                for row in rows:
                    if query is _TIERED_USERS and view is not None and not view.sees(
                            row[3], row[4]):
                        continue
                    found.setdefault(row[0], []).append((row[1], row[2]))
        return found

    async def where_used(self, handle: str) -> list[tuple[str, str]]:
        """``(from_handle, relation)`` pairs pointing at ``handle``."""
        return (await self.where_used_many([handle])).get(name_key(handle), [])
