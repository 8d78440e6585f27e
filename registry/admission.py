"""Who owns a handle, and may it be written: enterprise status and quota.

A handle belongs to the enterprise that owns the **longest registered prefix**
above it: ``88.118.7.1/x`` belongs to the owner of ``88.118.7`` unless
``88.118.7.1`` itself is registered (then to that prefix's owner, or to
nobody when the operator registered it without one).  A prefix handle
``0.NA/88.118.7.1`` is judged by the prefix it describes, so an enterprise's
derived prefix handles are its own too.  Suspension and quota therefore follow
the owner wherever a tenant puts a handle; an exact match of the handle's
prefix (the old rule) let handles under derived prefixes escape both.

A registry that refuses foreign handles (``WriteRules.hosted_only``, set for
every store a node or the CLI opens) admits a new handle only under a
registered prefix (:meth:`Ownership.check_hosted`): an identifier no
enterprise and not the node holds would be resolvable here while the world's
root sends its askers elsewhere.

The prefix handle of a registered prefix (``0.NA/<registered>``) is written
by the operator at onboarding: suspension binds it, the quota does not count
it (a quota counts the enterprise's identifiers).

Loading the owners for a create locks their enterprise rows for the rest of
the transaction (PostgreSQL ``FOR UPDATE``; SQLite holds the write lock
anyway, and reads the prefixes with their owners in one query), so two
concurrent creates cannot both take the last unit of a quota.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, not_, or_, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.values import HandleValue
from registry import sqlite_driver
from registry.admins import with_default_admin
from registry.errors import EnterpriseSuspended, PrefixNotHosted, QuotaExceeded
from registry.models import Enterprise, Handle, Prefix, table_of
from registry.names import name_key, parent_prefixes, prefix_handle

_P = table_of(Prefix)
_E = table_of(Enterprise)
_H = table_of(Handle)
_NA = name_key(prefix_handle("")[:-1])  # 0.NA
_NA_OF_NOTHING = name_key(prefix_handle(""))  # the prefix handle of no prefix
_WITH_OWNERS = select(_P.c.name, _P.c.owner, _E.c.code, _E.c.status, _E.c.quota).select_from(
    _P.outerjoin(_E, _E.c.code == _P.c.owner))


@lru_cache(maxsize=16)
def _with_owners_sqlite(count: int) -> str:
    """:data:`_WITH_OWNERS` of ``count`` prefix names as SQLite text (``?`` for each)."""
    names = [f"p{i}" for i in range(count)]
    query = _WITH_OWNERS.where(_P.c.name.in_(bindparam("names", expanding=True)))
    return str(query.params(names=names).compile(
        dialect=sqlite_dialect.dialect(), compile_kwargs={"render_postcompile": True}))


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


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns one handle: the owner (None: the node), whether the handle is the
    prefix handle of the registered prefix itself (not counted in a quota), and
    that registered prefix (None: no prefix registered here holds the handle)."""

    owner: Owner | None
    is_prefix_handle: bool
    prefix: str | None = None

    def admit(self) -> None:
        """Admit a new handle: suspension always binds, the quota unless a prefix handle."""
        if self.owner is None:
            return
        if self.is_prefix_handle:
            self.owner.check_writable()
        else:
            self.owner.admit()

    def check_writable(self) -> None:
        """Raise :class:`EnterpriseSuspended` if the owner is not active."""
        if self.owner is not None:
            self.owner.check_writable()

    def check_hosted(self, handle: str) -> None:
        """Raise :class:`PrefixNotHosted` unless a prefix registered here holds ``handle``."""
        if self.prefix is None:
            raise PrefixNotHosted(
                f"{handle}: no prefix registered on this node holds it (register its prefix "
                "with idnode prefix create, or an enterprise with idnode enterprise add)"
            )

    def admit_new(self, handle: str, *, hosted_only: bool) -> None:
        """Admit the new ``handle``: :meth:`admit`, and :meth:`check_hosted` when
        ``hosted_only``."""
        if hosted_only:
            self.check_hosted(handle)
        self.admit()

    def with_admin(self, values: Mapping[int, HandleValue]) -> dict[int, HandleValue]:
        """``values`` of a new handle as stored: under an enterprise's prefix, with that
        prefix's admin when they name no HS_ADMIN (:func:`registry.admins.with_default_admin`)."""
        if self.owner is None or self.is_prefix_handle or self.prefix is None:
            return dict(values)
        return with_default_admin(values, self.prefix)

    @property
    def code(self) -> str | None:
        """The owning enterprise's code, or None."""
        return None if self.owner is None else self.owner.code


def owning_prefixes(handle_key: str) -> list[str]:
    """The prefixes that may own ``handle_key`` (a name key), nearest first:
    ``88.118.7.1/X`` and ``0.NA/88.118.7.1`` -> ``[88.118.7.1, 88.118.7, 88.118, 88]``."""
    return list(_owning_chain(handle_key))


def _owning_chain(handle_key: str) -> tuple[str, ...]:
    prefix, _, suffix = handle_key.partition("/")
    return _chain(suffix if prefix == _NA and suffix else prefix)


@lru_cache(maxsize=4096)
def _chain(base: str) -> tuple[str, ...]:
    """``base`` and its parents (the handles of a batch share a few prefixes)."""
    return (base, *parent_prefixes(base))


def under(column: ColumnElement[str], prefix_key: str) -> ColumnElement[bool]:
    """``column`` (a prefix key) is ``prefix_key`` or one of its derived prefixes."""
    return or_(column == prefix_key, column.startswith(prefix_key + ".", autoescape=True))


def owned_by_prefix(prefix_key: str) -> ColumnElement[bool]:
    """Handles whose owner is decided by ``prefix_key`` or a prefix derived from it
    (handles under them and their ``0.NA/`` prefix handles)."""
    na_suffix = func.substr(_H.c.name_key, len(_NA) + 2)
    return or_(under(_H.c.prefix, prefix_key),
               and_(_H.c.prefix == _NA, under(na_suffix, prefix_key)))


def _candidates(wanted: Mapping[str, tuple[str, ...]]) -> list[str]:
    return sorted({p for chain in set(wanted.values()) for p in chain})


def owners_query_sqlite(handle_keys: Iterable[str]) -> tuple[str, tuple[str, ...]] | None:
    """The SQLite text and parameters of :func:`load_owners`' one read for
    ``handle_keys`` (None when it reads nothing), for a caller that runs it in the
    same trip as another statement and hands the rows in (``sqlite_rows``)."""
    keys = set(handle_keys)
    if len(keys) == 1:  # a create's one handle: the same few prefixes create after create
        return _chain_query_sqlite(_owning_chain(keys.pop()))
    candidates = _candidates({key: _owning_chain(key) for key in keys})
    return (_with_owners_sqlite(len(candidates)), tuple(candidates)) if candidates else None


@lru_cache(maxsize=4096)
def _chain_query_sqlite(chain: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """:func:`owners_query_sqlite` of a handle whose owning prefixes are ``chain``."""
    candidates = sorted(set(chain))
    return (_with_owners_sqlite(len(candidates)), tuple(candidates)) if candidates else None


async def load_owners(
    conn: AsyncConnection, handle_keys: Iterable[str], *, lock: bool = True,
    sqlite_rows: Sequence[Any] | None = None,
) -> dict[str, Ownership]:
    """The ownership of each of ``handle_keys`` (name keys); with ``lock`` the owning
    enterprises' rows are locked and their usage counted (for admitting creates).
    On SQLite ``sqlite_rows`` are the rows of :func:`owners_query_sqlite` for these
    keys, read already in this transaction."""
    keys = handle_keys if isinstance(handle_keys, (list, tuple)) else list(handle_keys)
    if sqlite_rows is not None and len(keys) == 1:  # a create's one handle
        key = keys[0]
        one = _one_ownership(key, sqlite_rows)
        if lock and one.owner is not None and one.owner.quota is not None:
            await _count_usage(conn, {one.owner.code: one.owner})
        return {key: one}
    wanted = {key: _owning_chain(key) for key in set(keys)}
    candidates = _candidates(wanted)
    if not candidates:
        return {}
    sqlite = conn.dialect.name == "sqlite"
    found: dict[str, Owner] = {}
    if sqlite:  # the write lock is held already: prefixes and their owners in one query
        rows = sqlite_rows if sqlite_rows is not None else await sqlite_driver.fetch_raw(
            conn, _with_owners_sqlite(len(candidates)), tuple(candidates))
        registered = {name: owner for name, owner, *_ in rows}
        found = {code: Owner(code, status, quota, 0)
                 for _, _, code, status, quota in rows if code is not None}
    else:
        prefixes = select(_P.c.name, _P.c.owner).where(_P.c.name.in_(candidates))
        registered = {name: owner for name, owner in await conn.execute(prefixes)}
    by_chain = {chain: next((p for p in chain if p in registered), None)
                for chain in set(wanted.values())}
    nearest = {key: by_chain[chain] for key, chain in wanted.items()}
    codes = sorted({registered[p] for p in nearest.values() if p and registered[p]})
    owners: dict[str, Owner] = {}
    if sqlite:
        owners = {code: found[code] for code in codes if code in found}
    elif codes:
        query = select(_E.c.code, _E.c.status, _E.c.quota).where(_E.c.code.in_(codes))
        if lock:
            query = query.order_by(_E.c.code).with_for_update()
        owners = {row.code: Owner(row.code, row.status, row.quota, 0)
                  for row in await conn.execute(query)}
    result: dict[str, Ownership] = {}
    na_keys: dict[str | None, str] = {
        p: name_key(prefix_handle(p or "")) for p in set(nearest.values())}
    # the handles under one prefix share one (immutable) Ownership; its prefix handle
    # gets its own
    shared: dict[str | None, Ownership] = {}
    for key, prefix in nearest.items():
        is_prefix_handle = key == na_keys[prefix]
        ownership = None if is_prefix_handle else shared.get(prefix)
        if ownership is None:
            owner = None if prefix is None else owners.get(registered[prefix] or "")
            ownership = Ownership(owner, is_prefix_handle, prefix)
            if not is_prefix_handle:
                shared[prefix] = ownership
        result[key] = ownership
    if lock:
        await _count_usage(conn, owners)
    return result


def _one_ownership(key: str, rows: Sequence[Any]) -> Ownership:
    """:func:`load_owners`' ownership of one handle ``key`` from the rows of
    :func:`owners_query_sqlite` (prefix, owner, code, status, quota), without the
    dictionaries a batch of handles needs."""
    chain = _owning_chain(key)
    by_name = {row[0]: row for row in rows}
    prefix = next((p for p in chain if p in by_name), None)
    if prefix is None:
        return Ownership(None, key == _NA_OF_NOTHING, None)
    _, owner_code, code, status, quota = by_name[prefix]
    owner = (Owner(code, status, quota, 0) if owner_code and code is not None
             else None)
    return Ownership(owner, key == name_key(prefix_handle(prefix)), prefix)


async def _count_usage(conn: AsyncConnection, owners: dict[str, Owner]) -> None:
    """Set ``used`` of the owners with a quota: their handles, prefix handles of
    registered prefixes left out."""
    limited = [code for code, owner in owners.items() if owner.quota is not None]
    if not limited:
        return
    registered_handles = select(literal(_NA + "/").concat(_P.c.name))
    counts = (
        select(_H.c.enterprise, func.count())
        .where(_H.c.enterprise.in_(limited),
               not_(and_(_H.c.prefix == _NA, _H.c.name_key.in_(registered_handles))))
        .group_by(_H.c.enterprise)
    )
    for code, used in await conn.execute(counts):
        owners[code].used = used
