"""Prefixes, enterprises and credentials: who owns what on this node.

Every change is logged in the audit chain in its own transaction (``actor``
defaults to :data:`ADMIN`); prefix changes under the prefix handle
``0.NA/<prefix>``, credential changes under the admin handle.  Prefix changes
also go to the change feed (:mod:`registry.changes`) as that prefix handle.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Executable, Row, Table, delete, insert, not_, select, update
from sqlalchemy.exc import IntegrityError

from registry import changes
from registry.admission import owned_by_prefix
from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import AlreadyExists, InvalidArgument, NotFound
from registry.models import (
    CREDENTIAL_KINDS,
    ENTERPRISE_STATUSES,
    INDUSTRIES,
    PREFIX_KINDS,
    PREFIX_STATUSES,
    Credential,
    Enterprise,
    Handle,
    Prefix,
    table_of,
    utcnow,
)
from registry.names import name_key, parent_prefixes, prefix_handle
from registry.records import CredentialInfo, EnterpriseInfo, PrefixInfo

ADMIN = "admin"
"""The actor recorded for directory changes when the caller names none."""

_P = table_of(Prefix)
_E = table_of(Enterprise)
_C = table_of(Credential)
_H = table_of(Handle)


def _choice(what: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidArgument(f"{what} must be one of {', '.join(allowed)}: {value!r}")
    return value


def _prefix(row: Row[tuple[str, str | None, str, str | None, str, object]]) -> PrefixInfo:
    return PrefixInfo(row.name, row.parent, row.kind, row.owner, row.status, row.created)


class DirectoryMixin(StoreBase):
    """Prefixes, enterprises and credentials."""

    async def _set(
        self, table: Table, key: object, what: str, audit: AuditEvent, *, changed: str = "",
        **values: object,
    ) -> None:
        """Update one row; ``changed`` names the prefix handle to note in the change feed."""
        key_column = table.primary_key.columns.values()[0]
        async with self._write() as conn:
            result = await conn.execute(update(table).where(key_column == key).values(**values))
            if result.rowcount != 1:
                raise NotFound(f"no {what} {key}")
            await append_audit(conn, [audit])
            await changes.record(conn, [changed] if changed else [], changes.PREFIX)

    async def _add(
        self, table: Table, what: str, key: str, row: dict[str, object], audit: AuditEvent,
        *then: Executable, changed: str = "",
    ) -> None:
        """Insert one row; ``changed`` names the prefix handle to note in the change feed."""
        try:
            async with self._write() as conn:
                await conn.execute(insert(table), row)
                for statement in then:
                    await conn.execute(statement)
                await append_audit(conn, [audit])
                await changes.record(conn, [changed] if changed else [], changes.PREFIX)
        except IntegrityError as exc:
            raise AlreadyExists(f"{what} {key} exists or names an unknown owner") from exc

    # --- prefixes ----------------------------------------------------------

    async def create_prefix(
        self, name: str, *, kind: str = "hosted", owner: str | None = None, actor: str = ADMIN
    ) -> PrefixInfo:
        """Register prefix ``name`` (e.g. ``88.118.8``); its parent is derived from the dots.

        Handles it now owns (see :mod:`registry.admission`: under it or under a
        prefix derived from it, their ``0.NA/`` prefix handles too, but not those
        under a longer registered prefix) become ``owner``'s, so that its
        suspension and quota bind them like the ones created later."""
        key = name_key(name)
        parents = parent_prefixes(key)
        info = PrefixInfo(key, parents[0] if parents else None, _choice("kind", kind, PREFIX_KINDS),
                          owner, "active", utcnow())
        audit = AuditEvent(actor, "prefix.create", prefix_handle(key),
                           detail={"kind": info.kind, "owner": owner})
        async with self._read() as conn:
            longer = list((await conn.execute(
                select(_P.c.name).where(_P.c.name.startswith(key + ".", autoescape=True))
            )).scalars())
        adopt = update(_H).where(
            owned_by_prefix(key), *(not_(owned_by_prefix(other)) for other in longer)
        ).values(enterprise=owner)
        await self._add(_P, "prefix", key, dataclasses.asdict(info), audit, adopt,
                        changed=prefix_handle(key))
        await self._changed([prefix_handle(key)])
        return info

    async def get_prefix(self, name: str) -> PrefixInfo | None:
        """The prefix ``name`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(_P).where(_P.c.name == name_key(name)))).first()
        return None if row is None else _prefix(row)

    async def match_prefix(self, prefix: str) -> PrefixInfo | None:
        """The registered prefix nearest to ``prefix``: itself, else its closest ancestor."""
        key = name_key(prefix)
        candidates = [key, *parent_prefixes(key)]
        query = select(_P).where(_P.c.name.in_(candidates))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return _prefix(max(rows, key=lambda r: len(r.name))) if rows else None

    async def list_prefixes(
        self, *, owner: str | None = None, kind: str | None = None
    ) -> list[PrefixInfo]:
        """Prefixes by name, optionally of one owner and/or kind."""
        query = select(_P).order_by(_P.c.name)
        if owner is not None:
            query = query.where(_P.c.owner == owner)
        if kind is not None:
            query = query.where(_P.c.kind == kind)
        async with self._read() as conn:
            return [_prefix(row) for row in await conn.execute(query)]

    async def set_prefix_kind(self, name: str, kind: str, *, actor: str = ADMIN) -> None:
        """Switch a prefix between hosted, delegated and root-managed."""
        checked = _choice("kind", kind, PREFIX_KINDS)
        key = name_key(name)
        audit = AuditEvent(actor, "prefix.kind", prefix_handle(key), detail={"kind": checked})
        await self._set(_P, key, "prefix", audit, changed=prefix_handle(key), kind=checked)
        await self._changed([prefix_handle(key)])

    async def set_prefix_status(self, name: str, status: str, *, actor: str = ADMIN) -> None:
        """Mark a prefix active or suspended."""
        checked = _choice("status", status, PREFIX_STATUSES)
        key = name_key(name)
        audit = AuditEvent(actor, "prefix.status", prefix_handle(key), detail={"status": checked})
        await self._set(_P, key, "prefix", audit, changed=prefix_handle(key), status=checked)
        await self._changed([prefix_handle(key)])

    async def delete_prefix(self, name: str, *, actor: str = ADMIN) -> None:
        """Forget a prefix (its handles stay)."""
        key = name_key(name)
        async with self._write() as conn:
            result = await conn.execute(delete(_P).where(_P.c.name == key))
            if result.rowcount != 1:
                raise NotFound(f"no prefix {name}")
            await append_audit(conn, [AuditEvent(actor, "prefix.delete", prefix_handle(key))])
            await changes.record(conn, [prefix_handle(key)], changes.PREFIX)
        await self._changed([prefix_handle(key)])

    # --- enterprises -------------------------------------------------------

    async def add_enterprise(
        self,
        code: str,
        name: str,
        *,
        industry: str = "other",
        quota: int | None = None,
        actor: str = ADMIN,
    ) -> EnterpriseInfo:
        """Register an enterprise; ``quota`` caps its handles (None: unlimited)."""
        info = EnterpriseInfo(
            code, name, _choice("industry", industry, INDUSTRIES), "active", quota, utcnow()
        )
        audit = AuditEvent(actor, "enterprise.create", None,
                           detail={"enterprise": code, "industry": info.industry, "quota": quota})
        await self._add(_E, "enterprise", code, dataclasses.asdict(info), audit)
        return info

    async def get_enterprise(self, code: str) -> EnterpriseInfo | None:
        """The enterprise ``code`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(_E).where(_E.c.code == code))).first()
        return None if row is None else EnterpriseInfo(*row)

    async def list_enterprises(self) -> list[EnterpriseInfo]:
        """Every enterprise by code."""
        async with self._read() as conn:
            rows = await conn.execute(select(_E).order_by(_E.c.code))
            return [EnterpriseInfo(*row) for row in rows]

    async def set_enterprise_status(self, code: str, status: str, *, actor: str = ADMIN) -> None:
        """Activate or suspend an enterprise (suspended: its handles are read-only)."""
        checked = _choice("status", status, ENTERPRISE_STATUSES)
        audit = AuditEvent(actor, "enterprise.status", None,
                           detail={"enterprise": code, "status": checked})
        await self._set(_E, code, "enterprise", audit, status=checked)

    async def set_enterprise_quota(
        self, code: str, quota: int | None, *, actor: str = ADMIN
    ) -> None:
        """Change an enterprise's handle quota (None: unlimited)."""
        audit = AuditEvent(actor, "enterprise.quota", None,
                           detail={"enterprise": code, "quota": quota})
        await self._set(_E, code, "enterprise", audit, quota=quota)

    # --- credentials -------------------------------------------------------

    async def record_credential(
        self,
        admin_handle: str,
        admin_index: int,
        kind: str,
        *,
        enterprise: str | None = None,
        actor: str = ADMIN,
    ) -> CredentialInfo:
        """Record that ``admin_handle`` value ``admin_index`` holds a key of ``kind``."""
        checked = _choice("kind", kind, CREDENTIAL_KINDS)
        created = utcnow()
        row = {"enterprise": enterprise, "admin_handle": admin_handle,
               "admin_index": admin_index, "kind": checked, "created": created}
        async with self._write() as conn:
            new_id = (await conn.execute(insert(_C).returning(_C.c.id), row)).scalar_one()
            detail = {"credential": new_id, "index": admin_index, "kind": checked,
                      "enterprise": enterprise}
            await append_audit(conn, [AuditEvent(actor, "credential.create", admin_handle,
                                                 detail=detail)])
        return CredentialInfo(new_id, enterprise, admin_handle, admin_index, checked, created,
                              None)

    async def list_credentials(
        self, *, enterprise: str | None = None, include_revoked: bool = False
    ) -> list[CredentialInfo]:
        """Credentials by id, of one enterprise if given, valid ones unless asked."""
        query = select(_C).order_by(_C.c.id)
        if enterprise is not None:
            query = query.where(_C.c.enterprise == enterprise)
        if not include_revoked:
            query = query.where(_C.c.revoked.is_(None))
        async with self._read() as conn:
            return [CredentialInfo(*row) for row in await conn.execute(query)]

    async def revoke_credential(self, credential_id: int, *, actor: str = ADMIN) -> None:
        """Mark a credential revoked now."""
        audit = AuditEvent(actor, "credential.revoke", None, detail={"credential": credential_id})
        await self._set(_C, credential_id, "credential", audit, revoked=utcnow())
