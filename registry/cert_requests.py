"""The review queue of certificate requests: submitted by an enterprise, decided once.

A request (:mod:`registry.trust.requests`, checked again here so nothing
unverified is queued) moves ``pending -> approved`` or ``pending -> rejected``.
The submission and each decision are appended to the audit chain
(``cert.submit``, ``cert.approve``, ``cert.reject``, with the request id,
subject and key thumbprint); a decision is made inside the caller's
transaction when there is one, so an approval's HS_CERT write, the state change
and its audit entry commit together or not at all.  An approved request keeps
where its certificate was written (the subject's handle, ``cert_index``) and
when it expires (``cert_expires``), for the enterprise to see.  Deciding a
request that is no longer pending raises :class:`AlreadyDecided`, also when
another decision commits first (the state changes only ``WHERE state =
'pending'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from registry.admission import load_owners
from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import InvalidArgument, NotFound
from registry.models import CERT_REQUEST_STATES, CertRequest, table_of, utcnow
from registry.names import name_key
from registry.trust.keys import jwk_thumbprint
from registry.trust.requests import RequestError, check_request

_R = table_of(CertRequest)
#: a decision's reason is free text, bounded as its column
MAX_REASON = 1024
#: the most rows one listing returns
MAX_LIST = 1000


class AlreadyDecided(InvalidArgument):
    """The request was approved or rejected already (perhaps a moment ago, elsewhere)."""


@dataclass(frozen=True, slots=True)
class CertRequestInfo:
    """A queued certificate request and its decision, if any."""

    id: int
    subject: str
    enterprise: str | None
    key_thumbprint: str
    request: str
    submitted_by: str
    submitted: datetime
    state: str
    decided_by: str | None
    reason: str
    decided: datetime | None
    cert_index: int | None = None
    cert_expires: datetime | None = None

    @property
    def handle(self) -> str:
        """The handle of the subject (where its certificate goes)."""
        return self.subject.partition(":")[2] or self.subject

    def to_json(self) -> dict[str, Any]:
        """The request as JSON-ready data (the JWS left out: fetch it by id)."""
        return {
            "id": self.id, "subject": self.subject, "enterprise": self.enterprise,
            "key": self.key_thumbprint, "submitted_by": self.submitted_by,
            "submitted": self.submitted.isoformat(timespec="seconds"), "state": self.state,
            "decided_by": self.decided_by, "reason": self.reason,
            "decided": None if self.decided is None else self.decided.isoformat(
                timespec="seconds"),
            "certificate": None if self.cert_index is None else {
                "handle": self.handle, "index": self.cert_index,
                "expires": None if self.cert_expires is None else self.cert_expires.isoformat(
                    timespec="seconds")},
        }


_COLUMNS = (_R.c.id, _R.c.subject, _R.c.enterprise, _R.c.key_thumbprint, _R.c.request,
            _R.c.submitted_by, _R.c.submitted, _R.c.state, _R.c.decided_by, _R.c.reason,
            _R.c.decided, _R.c.cert_index, _R.c.cert_expires)


class CertRequestsMixin(StoreBase):
    """Certificate requests awaiting review."""

    async def subject_enterprise(self, handle: str) -> str | None:
        """The code of the enterprise owning the prefix ``handle`` falls under, or None."""
        key = name_key(handle)
        async with self._read() as conn:
            return (await load_owners(conn, [key], lock=False))[key].code

    async def submit_cert_request(
        self, request: str, *, actor: str, now: int
    ) -> CertRequestInfo:
        """Queue ``request`` (a compact JWS) once it verifies at ``now``;
        :class:`InvalidArgument` naming the problem otherwise."""
        try:
            subject, key = check_request(request.encode(), now)
        except (RequestError, UnicodeError) as exc:
            raise InvalidArgument(str(exc)) from None
        enterprise = await self.subject_enterprise(subject.handle)
        row = {"subject": str(subject), "enterprise": enterprise,
               "key_thumbprint": jwk_thumbprint(key), "request": request.strip(),
               "submitted_by": actor, "submitted": utcnow(), "state": "pending", "reason": ""}
        async with self._write() as conn:
            new_id = (await conn.execute(insert(_R).returning(_R.c.id), row)).scalar_one()
            await append_audit(conn, [AuditEvent(actor, "cert.submit", subject.handle, detail={
                "request": new_id, "subject": str(subject), "key": row["key_thumbprint"],
                "enterprise": enterprise})])
        info = await self.get_cert_request(new_id)
        assert info is not None
        return info

    async def get_cert_request(self, request_id: int) -> CertRequestInfo | None:
        """One request or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(_R.c.id == request_id))).first()
        return None if row is None else CertRequestInfo(*row)

    async def list_cert_requests(
        self, *, state: str | None = None, enterprise: str | None = None, limit: int = 100,
        newest_first: bool = False,
    ) -> list[CertRequestInfo]:
        """Requests, oldest (or newest) first, optionally in one state or of one enterprise."""
        if state is not None and state not in CERT_REQUEST_STATES:
            raise InvalidArgument(f"a request is one of {', '.join(CERT_REQUEST_STATES)}, "
                                  f"not {state!r}")
        query = select(*_COLUMNS).order_by(_R.c.id.desc() if newest_first else _R.c.id).limit(
            max(1, min(limit, MAX_LIST)))
        if state is not None:
            query = query.where(_R.c.state == state)
        if enterprise is not None:
            query = query.where(_R.c.enterprise == enterprise)
        async with self._read() as conn:
            return [CertRequestInfo(*row) for row in await conn.execute(query)]

    async def decide_cert_request(
        self, request_id: int, state: str, *, actor: str, reason: str = "",
        detail: dict[str, Any] | None = None,
        certificate: tuple[int, datetime] | None = None,
    ) -> CertRequestInfo:
        """Move a pending request to ``approved`` or ``rejected`` (once) and audit it as
        ``cert.approve``/``cert.reject``; ``detail`` adds to the audit entry,
        ``certificate`` is the index and expiry of the HS_CERT an approval wrote."""
        if state not in ("approved", "rejected"):
            raise InvalidArgument(f"a request is approved or rejected, not {state!r}")
        if len(reason) > MAX_REASON:
            raise InvalidArgument(f"the reason is longer than {MAX_REASON} characters")
        current = await self.get_cert_request(request_id)
        if current is None:
            raise NotFound(f"no certificate request {request_id}")
        if current.state != "pending":
            raise AlreadyDecided(f"certificate request {request_id} is already {current.state}")
        action = "cert.approve" if state == "approved" else "cert.reject"
        async with self._write() as conn:
            result = await conn.execute(
                update(_R).where(_R.c.id == request_id, _R.c.state == "pending")
                .values(state=state, decided_by=actor, reason=reason, decided=utcnow(),
                        cert_index=certificate[0] if certificate else None,
                        cert_expires=certificate[1] if certificate else None))
            if result.rowcount != 1:
                raise AlreadyDecided(f"certificate request {request_id} was decided meanwhile")
            await append_audit(conn, [AuditEvent(actor, action, current.handle, detail={
                "request": request_id, "subject": current.subject,
                "key": current.key_thumbprint, "enterprise": current.enterprise,
                "reason": reason, **(detail or {})})])
        return await self.get_cert_request(request_id) or current
