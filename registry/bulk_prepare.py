"""The part of a bulk write done before its transaction: each record admitted and laid out.

Most of a batch's Python time in an import (:meth:`registry.bulk.BulkMixin.bulk_put`)
goes to work that depends on the records alone and on who owns them: names split,
values checked, the enterprise's default HS_ADMIN added to a new handle that names none,
the write rules, templates and events checked, and each record's value rows, image and
digest made.  Done inside the batch's transaction, that work holds the database's write
lock; done here, before it, on a snapshot of which of the batch's handles exist and who
owns the others, it leaves the lock to another process importing another part of the
same file (:mod:`registry.parallel_import`).

The transaction then takes a record's prepared outcome only where what the outcome
depended on still holds: the admin the record was given (none for an existing handle,
else its prefix's when an enterprise owns it: :func:`admin_prefix`) and whether an
earlier record of the batch with the same name was taken.  Any other record is admitted
again there, as if never prepared; quota, suspension and existence are always decided in
the transaction.  A record the signing policy has work for (:meth:`WriteRules.admit`) is
always admitted in the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.values import HandleValue
from registry import identifiers, links
from registry.admission import Ownership
from registry.errors import HandleAlreadyExists, InvalidValue, StoreError
from registry.records import Rejection
from registry.templates.mapping import LINK_RELATIONS
from registry.trust.verify import Fetch
from registry.valuerows import RecordRows, check_values, record_rows
from registry.write_rules import WriteRules

#: a record's admission in its batch: the prefix whose admin it was given, or None
Admission = str | None


@dataclass(slots=True)
class Row:
    """One admitted record of a batch, and which rules can concern it at all (by its
    value types: :func:`record_kinds`)."""

    position: int
    name: str
    key: str
    prefix: str
    values: dict[int, HandleValue]  # in index order
    #: the record holds an event or a template (:func:`links.check_records`)
    checked: bool
    #: the record names other identifiers (:mod:`registry.identifiers`)
    identified: bool
    #: the record holds link values (:func:`links.link_records`)
    linked: bool
    #: whether :func:`links.check_records` was asked about it, and what it said (None: fine)
    traced: bool = False
    problem: str | None = None
    #: its value rows but their handle id, image and digest (:func:`record_rows`), made
    #: with the batch's stamp; None until made
    laid_out: RecordRows | None = None
    #: its links and their rows (``linked`` records), its identifiers (``identified``
    #: ones) or why they are malformed; None until made (:func:`lay_out`)
    links: links.LaidOutLinks | None = None
    identifiers: identifiers.Parsed | None = None


@dataclass(slots=True)
class Prepared:
    """What one record came to before the transaction, and what that assumed."""

    admission: Admission
    #: an earlier record of the batch with the same name key had been admitted
    duplicate: bool
    #: the admitted row or why not; None: the signing policy has work for it
    outcome: Row | Rejection | None


@dataclass(slots=True)
class PreparedBatch:
    """A batch made ready for :meth:`registry.bulk.BulkMixin.bulk_put`.

    ``named`` are the records whose names split, ``(position, name, values, key)``;
    ``unnamed`` the rejections of the others; ``records`` what each named record came to,
    by position; ``now``/``stamp`` the batch's time (its new heads' ``created``, the
    timestamp of values without one)."""

    now: datetime
    stamp: int
    named: list[tuple[int, str, Sequence[HandleValue], str]]
    unnamed: list[Rejection]
    records: dict[int, Prepared]


#: :func:`record_kinds` by the set of value types (bounded: cleared when full)
_KINDS: dict[frozenset[str], tuple[bool, bool, bool]] = {}
_CHECKED_TYPES = links.CHECKED_TYPES


def record_kinds(types: frozenset[str]) -> tuple[bool, bool, bool]:
    """``(checked, identified, linked)`` of a record whose values have ``types``: whether
    templates and events (:func:`links.check_records`), identifiers
    (:mod:`registry.identifiers`) and links (:func:`links.link_records`) can concern it
    at all.  Worked out once for each set of types (the records of an import repeat a
    few, a node's creates one or two), not three set intersections for every record."""
    kinds = _KINDS.get(types)
    if kinds is None:
        kinds = (not types.isdisjoint(_CHECKED_TYPES),
                 not types.isdisjoint(identifiers.ID_TYPES),
                 not types.isdisjoint(LINK_RELATIONS))
        if len(_KINDS) >= 4096:
            _KINDS.clear()
        _KINDS[types] = kinds
    return kinds


def admin_prefix(key: str, admins: Mapping[str, Ownership]) -> Admission:
    """The prefix whose admin :meth:`Ownership.with_admin` gives the new handle ``key``
    (``admins``: the ownership of the batch's new handles), None when it gives none."""
    ownership = admins.get(key)
    if (ownership is None or ownership.owner is None or ownership.is_prefix_handle
            or ownership.prefix is None):
        return None
    return ownership.prefix


def _index(value: HandleValue) -> int:
    return value.index


async def admit_row(rules: WriteRules, record_values: Fetch | None, position: int, name: str,
                    key: str, values: Sequence[HandleValue], ownership: Ownership | None,
                    duplicate: bool) -> Row | None:
    """The row of one record of a batch as stored (raising :class:`StoreError` for why
    it may not be): ``ownership`` is that of a new handle (None: it exists), ``duplicate``
    whether the batch took a record of the same name before.  With ``record_values``
    None, None when the signing policy has work for it (:meth:`WriteRules.admit`)."""
    if duplicate:
        raise HandleAlreadyExists(f"{name} appears twice in the batch")
    if not values:
        raise InvalidValue(f"{name} has no values (a record needs at least one)")
    checked = check_values(values)
    if ownership is not None:  # a new handle: its enterprise's admin unless it names one
        checked = ownership.with_admin(checked)
    # sorted by index (unique: the values are never compared), in C
    by_index = dict(sorted(checked.items()))
    ordered = list(by_index.values())
    # None: signatures to verify or make; else the same values, in order
    admitted = rules.admit_unsigned(name, ordered)
    if admitted is None:
        if record_values is None:
            return None
        admitted = sorted(await rules.admit(name, ordered, record_values), key=_index)
        by_index = {v.index: v for v in admitted}
    return Row(position, name, key, key.partition("/")[0], by_index,
               *record_kinds(frozenset([v.type for v in admitted])))


async def prepare_rows(rules: WriteRules, named: list[tuple[int, str, Sequence[HandleValue], str]],
                       admins: Mapping[str, Ownership]) -> dict[int, Prepared]:
    """What each of ``named`` comes to, by position, given the ownership of the new
    handles among them (``admins``, by key; the others exist)."""
    prepared: dict[int, Prepared] = {}
    taken: set[str] = set()
    for position, name, values, key in named:
        duplicate = key in taken
        admission = admin_prefix(key, admins)
        outcome: Row | Rejection | None
        try:
            outcome = await admit_row(rules, None, position, name, key, values,
                                      admins.get(key), duplicate)
        except StoreError as exc:
            outcome = Rejection(position, name, str(exc), exc.response_code)
        if isinstance(outcome, Row) or outcome is None:
            taken.add(key)  # (a record left to the signing policy is taken, as a rule)
        prepared[position] = Prepared(admission, duplicate, outcome)
    return prepared


def lay_out(rows: Sequence[Row], stamp: int, truth: tuple[Any, Any],
            blob: type[bytearray] | None) -> None:
    """Make the value rows, image and digest of each of ``rows`` not laid out yet, and
    the links and identifiers of those that have them."""
    for row in rows:
        if row.laid_out is None:
            row.laid_out = record_rows(row.key, row.values.values(), stamp, truth, blob)
            if row.linked:
                row.links = links.lay_out_links(row.name, row.values.values())
            if row.identified:
                row.identifiers = identifiers.parse_record(row.values)
