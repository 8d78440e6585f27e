"""Verification on resolution: a handle's signatures checked up to the node's trust anchor.

:func:`verify` resolves the whole public record of a handle (type and index
filters are for the answer, never for the check: a signature covers every
public value) and every handle the certificate chain names through the same
:class:`~resolver.core.service.ResolutionService` as any client, so cached,
referred and recursively fetched records are judged alike, except that the
handles of the chain (the issuers, holding certificates and HS_REVOCATION lists)
are read no more than ``revocation_ttl`` seconds old
(:attr:`~resolver.core.service.ResolutionService.revocation_ttl`): an older cached
copy is fetched again from its authority, so a revocation counts within that
bound however long its record's TTL.  The verdict is
:func:`registry.trust.verify_record`'s: ``valid``, ``invalid`` (which value),
``unsigned``, ``expired``, ``revoked`` or ``untrusted``.  Without a trust
anchor (``trust_anchor_path``) no chain can end, so a signed record is at best
``untrusted``.

:func:`verify_over_handle_protocol` is the same check made by a client of another
server: the record and every handle of its chain are resolved there over the
Handle protocol (recursively, so the server follows referrals, as CNRI clients
ask), and the verdict is reached here, against the client's own trust anchor.
The Handle protocol carries no verification result (see docs/cnri-compatibility.md),
so this is how a Handle client learns it.  ``fresh`` sets the requests' AT
(authoritative) flag, which an idnode server answers without its cache (the record
fetched again from its authority), so a client need not wait for the server's
cached copy of a revoking issuer to age.

:func:`report_json` is the ``verification`` member the REST API adds with
``?verify=true``::

    {"status": "invalid", "reason": "value 2 does not match its signed digest",
     "failedValues": [2], "signer": "300:0.NA/88.118.8",
     "chain": [{"handle": "88.118.8/TV-0001", "index": 400, "status": "ok",
                "issuer": "300:0.NA/88.118.8", "detail": ""}, ...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocol.constants import RC_SUCCESS
from protocol.values import HandleValue
from registry.signing_policy import NO_ANCHOR
from registry.trust.keys import PublicKey
from registry.trust.verify import Fetch, Status, VerificationReport, verify_record
from resolver.core.client import HandleClient, HandleClientError, Target
from resolver.core.model import ServiceError
from resolver.core.service import ResolutionService

NO_ANCHOR_REASON = "no trust anchor is configured (trust_anchor_path)"


def resolution_fetch(
    service: ResolutionService, *, recursive: bool, max_age: float | None = None
) -> Fetch:
    """A verifier ``fetch``: the public record as an anonymous client resolves it,
    cached no longer than ``max_age`` seconds ago if given."""

    async def fetch(handle: str) -> list[HandleValue] | None:
        try:
            answer = await service.resolve(handle, recursive=recursive, max_age=max_age)
        except ServiceError:
            return None
        return list(answer.values) if answer.response_code == RC_SUCCESS else None

    return fetch


def chain_fetch(service: ResolutionService, *, recursive: bool) -> Fetch:
    """The ``fetch`` a verification walks a chain with: issuers' handles no older than
    the service's ``revocation_ttl``."""
    return resolution_fetch(service, recursive=recursive, max_age=service.revocation_ttl)


async def verify(
    service: ResolutionService, handle: str, *, recursive: bool = False, now: int | None = None
) -> VerificationReport | None:
    """The verdict on ``handle``'s record, or None when it does not resolve to values."""
    values = await resolution_fetch(service, recursive=recursive)(handle)
    if values is None:
        return None
    return await verify_values(service, handle, values, recursive=recursive, now=now)


async def verify_values(
    service: ResolutionService,
    handle: str,
    values: Sequence[HandleValue],
    *,
    recursive: bool = False,
    now: int | None = None,
) -> VerificationReport:
    """The verdict on ``values``, already resolved as ``handle``'s record (a reader's view
    may hold non-public values too: signatures cover only the public ones)."""
    anchor = service.trust_anchor
    report = await verify_record(
        handle, values, fetch=chain_fetch(service, recursive=recursive),
        trust_anchor=anchor or NO_ANCHOR, now=now,
    )
    return _without_anchor_said(report, anchor)


def handle_protocol_fetch(client: HandleClient, server: Target, *, fresh: bool = False) -> Fetch:
    """A verifier ``fetch``: the public record as ``server`` answers it, recursively;
    ``fresh`` asks for authoritative (uncached) answers."""

    async def fetch(handle: str) -> list[HandleValue] | None:
        try:
            answer = await client.resolve(handle, server=server, recursive=True,
                                          authoritative=fresh)
        except HandleClientError:
            return None
        return list(answer.values) if answer.response_code == RC_SUCCESS else None

    return fetch


async def verify_over_handle_protocol(
    client: HandleClient,
    server: Target,
    handle: str,
    trust_anchor: PublicKey | None,
    *,
    now: int | None = None,
    fresh: bool = False,
) -> VerificationReport | None:
    """The verdict on ``handle`` as resolved at ``server``, checked here up to
    ``trust_anchor``; None when it does not resolve to values.  ``fresh``: every
    handle asked for with the AT flag (not from the server's cache)."""
    fetch = handle_protocol_fetch(client, server, fresh=fresh)
    values = await fetch(handle)
    if values is None:
        return None
    return _without_anchor_said(
        await verify_record(
            handle, values, fetch=fetch, trust_anchor=trust_anchor or NO_ANCHOR, now=now
        ),
        trust_anchor,
    )


def _without_anchor_said(
    report: VerificationReport, anchor: PublicKey | None
) -> VerificationReport:
    """``report``, its reason saying so when no trust anchor could end the chain."""
    if anchor is None and report.status is Status.UNTRUSTED:
        return VerificationReport(
            report.handle, report.status, f"{NO_ANCHOR_REASON}; {report.reason}",
            report.signatures,
        )
    return report


def report_json(report: VerificationReport) -> dict[str, Any]:
    """The REST JSON form of ``report`` (see the module docstring)."""
    deciding = report.deciding
    return {
        "status": str(report.status),
        "reason": report.reason,
        "failedValues": list(report.failed_values),
        "signer": deciding.signer if deciding else "",
        "chain": [
            {
                "handle": link.handle,
                "index": link.index,
                "status": link.status,
                "issuer": link.issuer,
                "detail": link.detail,
            }
            for link in report.chain
        ],
    }
