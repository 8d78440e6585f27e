"""Issuing an HS_CERT, and approving a queued certificate request with one.

The single code path of ``idnode cert issue``, ``idnode cert approve`` and the
console's approve button.  :func:`issue_for` makes the certificate value: the
subject's permissions (a prefix handle ``0.NA/X`` may vouch for the handles
under X and, unless told otherwise, for prefixes derived from it; any other
handle only for itself), the index (the issuer's earlier certificate for the
same subject is replaced, else the first free from 400) and the validity
(from a little before now, for clocks running behind).
:func:`approve_cert_request` checks a pending request again (it may have
expired while it waited), writes the certificate on the subject's handle and
records the decision with its ``cert.approve`` audit entry, all in one
transaction: a request decided meanwhile (two tabs, two reviewers) rolls the
certificate back and raises :class:`~registry.cert_requests.AlreadyDecided`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol.constants import TYPE_HS_CERT
from protocol.values import HandleValue
from registry.cert_requests import AlreadyDecided, CertRequestInfo
from registry.config import MAX_CERT_DAYS
from registry.errors import HandleNotFound, InvalidArgument, NotFound
from registry.names import name_key
from registry.store import HandleStore
from registry.trust.certs import DEFAULT_CERT_INDEX, issue_cert, signed_values
from registry.trust.claims import PERM_THIS_HANDLE, Permission, ValueRef, prefix_permissions
from registry.trust.errors import TrustError
from registry.trust.keys import PrivateKey, PublicKey, jwk_thumbprint
from registry.trust.requests import RequestError, check_request
from registry.trust.signatures import next_free_index

DAY = 86_400
#: a new certificate is valid from a little before now, for clocks running behind
CLOCK_SKEW = 300


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A certificate made for a subject: the value and where it goes."""

    handle: str
    value: HandleValue
    issuer: ValueRef
    subject: ValueRef
    key: str
    expires: int

    @property
    def index(self) -> int:
        """The value index the certificate is written at."""
        return self.value.index

    @property
    def expires_at(self) -> datetime:
        """The end of its validity."""
        return datetime.fromtimestamp(self.expires, UTC)

    def to_json(self) -> dict[str, Any]:
        """What was issued, as a result row."""
        return {"handle": self.handle, "index": self.index, "issuer": str(self.issuer),
                "subject": str(self.subject), "key": self.key,
                "expires": self.expires_at.isoformat()}


def _perms(subject: str, derived: bool) -> tuple[Permission, ...]:
    if name_key(subject).startswith(name_key("0.NA/")):
        return prefix_permissions(subject, derived_prefixes=derived)
    return (Permission(subject, PERM_THIS_HANDLE),)


def _cert_index(values: list[HandleValue], issuer: ValueRef, subject: ValueRef) -> int:
    """The index of the issuer's current certificate for ``subject``, else a free one."""
    for cert in signed_values(subject.handle, values, TYPE_HS_CERT):
        if ValueRef.parse(cert.claims.iss).same(issuer) and ValueRef.parse(
            cert.claims.sub
        ).same(subject):
            return cert.index
    return next_free_index(values, DEFAULT_CERT_INDEX)


def check_days(days: int) -> int:
    """``days`` if it is a validity certificates are issued for; InvalidArgument otherwise."""
    if not 1 <= days <= MAX_CERT_DAYS:
        raise InvalidArgument(f"the validity must be 1 to {MAX_CERT_DAYS} days, got {days}")
    return days


def issue_for(
    existing: list[HandleValue], issuer: ValueRef, issuer_key: PrivateKey, subject: ValueRef,
    subject_key: PublicKey, days: int, *, index: int | None = None,
    derived_prefixes: bool = True, now: int | None = None,
) -> IssuedCert:
    """The HS_CERT by ``issuer`` binding ``subject_key`` to ``subject`` for ``days``, to add to
    the subject's handle whose values are ``existing``; InvalidArgument naming the problem."""
    check_days(days)
    now = int(time.time()) if now is None else now
    at = index or _cert_index(existing, issuer, subject)
    expires = now + days * DAY
    try:
        cert = issue_cert(
            issuer.handle, issuer.index, issuer_key, subject.handle, subject.index, subject_key,
            now - CLOCK_SKEW, expires, _perms(subject.handle, derived_prefixes),
            issued=now, index=at,
        )
    except TrustError as exc:
        raise InvalidArgument(str(exc)) from None
    return IssuedCert(subject.handle, cert, issuer, subject, jwk_thumbprint(subject_key),
                      expires)


async def approve_cert_request(
    store: HandleStore, request_id: int, *, issuer: ValueRef, issuer_key: PrivateKey,
    days: int, actor: str, reason: str = "", index: int | None = None,
    derived_prefixes: bool = True,
) -> tuple[IssuedCert, CertRequestInfo]:
    """Issue the certificate pending request ``request_id`` asks for and record the approval
    (by ``actor``, audited as ``cert.approve``) in one transaction.

    :class:`NotFound` for no such request, :class:`AlreadyDecided` when it is (or gets,
    meanwhile) decided, :class:`InvalidArgument` when it no longer verifies or ``days`` is
    out of bounds, :class:`HandleNotFound` when the subject's handle does not exist.
    """
    check_days(days)
    info = await store.get_cert_request(request_id)
    if info is None:
        raise NotFound(f"no certificate request {request_id}")
    if info.state != "pending":
        raise AlreadyDecided(f"certificate request {request_id} is already {info.state}")
    try:
        subject, key = check_request(info.request.encode(), int(time.time()))
    except RequestError as exc:
        raise InvalidArgument(f"certificate request {request_id}: {exc}") from None
    async with store.transaction():
        record = await store.get_handle(subject.handle)
        if record is None:
            raise HandleNotFound(f"handle {subject.handle} not found: the certificate of "
                                 f"request {request_id} cannot be written there")
        issued = issue_for(list(record.values), issuer, issuer_key, subject, key, days,
                           index=index, derived_prefixes=derived_prefixes)
        await store.upsert_values(subject.handle, [issued.value], actor=actor)
        decided = await store.decide_cert_request(
            request_id, "approved", actor=actor, reason=reason,
            detail={"issuer": str(issuer), "index": issued.index,
                    "expires": issued.expires_at.isoformat()},
            certificate=(issued.index, issued.expires_at))
    return issued, decided
