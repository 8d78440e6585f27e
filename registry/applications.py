"""Enterprise applications (real-name review): submitted online, approved or rejected once.

An application moves ``pending -> approved`` or ``pending -> rejected``; each
step is appended to its ``history`` (time, actor, state, reason) and to the
audit chain in the same transaction.  What approval creates is done by
:func:`registry.onboarding.approve_application`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import InvalidArgument, NotFound
from registry.models import EnterpriseApplication, table_of, utcnow

_A = table_of(EnterpriseApplication)


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    """What an enterprise fills in (already validated by the caller)."""

    name: str
    credit_code: str
    address: str
    legal_representative: str
    contact_name: str
    contact_phone: str
    contact_email: str
    industry: str
    requested_prefix: str | None
    admin_username: str
    admin_password_hash: str


@dataclass(frozen=True, slots=True)
class ApplicationInfo:
    """A stored application with its state and history."""

    id: int
    state: str
    form: ApplicationForm
    enterprise: str | None
    history: list[dict[str, Any]]
    created: datetime


_FORM_COLUMNS = tuple(_A.c[f.name] for f in fields(ApplicationForm))
_COLUMNS = (_A.c.id, _A.c.state, *_FORM_COLUMNS, _A.c.enterprise, _A.c.history, _A.c.created)


def _info(row: Any) -> ApplicationInfo:
    count = len(_FORM_COLUMNS)
    form = ApplicationForm(*row[2:2 + count])
    return ApplicationInfo(row[0], row[1], form, row[2 + count], list(row[3 + count]),
                           row[4 + count])


def _step(actor: str, state: str, reason: str = "") -> dict[str, Any]:
    return {"time": utcnow().isoformat(timespec="seconds"), "actor": actor, "state": state,
            "reason": reason}


class ApplicationsMixin(StoreBase):
    """Enterprise applications."""

    async def submit_application(self, form: ApplicationForm, *, actor: str) -> ApplicationInfo:
        """Store a new pending application."""
        created = utcnow()
        history = [_step(actor, "pending")]
        row = {f.name: getattr(form, f.name) for f in fields(ApplicationForm)}
        row |= {"state": "pending", "history": history, "created": created}
        async with self._write() as conn:
            new_id = (await conn.execute(insert(_A).returning(_A.c.id), row)).scalar_one()
            await append_audit(conn, [AuditEvent(actor, "application.submit", None, detail={
                "application": new_id, "credit_code": form.credit_code, "name": form.name})])
        return ApplicationInfo(new_id, "pending", form, None, history, created)

    async def get_application(self, application_id: int) -> ApplicationInfo | None:
        """One application or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(_A.c.id == application_id))
                   ).first()
        return None if row is None else _info(row)

    async def list_applications(self, state: str | None = None) -> list[ApplicationInfo]:
        """Applications, newest first, optionally in one state."""
        query = select(*_COLUMNS).order_by(_A.c.id.desc())
        if state is not None:
            query = query.where(_A.c.state == state)
        async with self._read() as conn:
            return [_info(row) for row in await conn.execute(query)]

    async def decide_application(
        self, application_id: int, state: str, *, actor: str, reason: str = "",
        enterprise: str | None = None,
    ) -> ApplicationInfo:
        """Move a pending application to ``approved`` or ``rejected`` (once)."""
        if state not in ("approved", "rejected"):
            raise InvalidArgument(f"an application is approved or rejected, not {state!r}")
        current = await self.get_application(application_id)
        if current is None:
            raise NotFound(f"no application {application_id}")
        if current.state != "pending":
            raise InvalidArgument(f"application {application_id} is already {current.state}")
        history = [*current.history, _step(actor, state, reason)]
        async with self._write() as conn:
            result = await conn.execute(
                update(_A).where(_A.c.id == application_id, _A.c.state == "pending")
                .values(state=state, history=history, enterprise=enterprise))
            if result.rowcount != 1:
                raise InvalidArgument(f"application {application_id} was decided meanwhile")
            await append_audit(conn, [AuditEvent(actor, f"application.{state}", None, detail={
                "application": application_id, "reason": reason, "enterprise": enterprise})])
        return await self.get_application(application_id) or current
