"""Verifying a signed record up its certificate chain to a trust anchor.

For each HS_SIGNATURE value of the record (Handle 9 ``HandleRecordTrustVerifier``,
``ChainBuilder`` and ``ChainVerifier`` in one walk):

1. the signer's key: the latest HS_CERT on the signer's handle about ``iss``
   (the key it binds), else the HS_PUBKEY at ``iss`` (usable to check the
   signature, but not certified, so the record can be no better than
   ``untrusted``);
2. the signature, then the digests of the covered values;
3. up the chain: each certificate is checked against the key of its own
   issuer, found the same way, until a JWS verifies under the trust anchor.
   A ``chain`` claim is followed as Handle 9 ``ChainBuilder.buildChain`` does:
   its entries name, in order, where the next certificate up is (``"INDEX:HANDLE"``:
   that value; a bare handle or index 0: the latest HS_CERT about the issuer on
   it); when a signature's list is used up, the next certificate's own
   ``chain`` (if any) takes over, else the lookup on the issuer's handle.
   Each link must be in date, not revoked by its issuer, and its issuer's
   ``perms`` must cover the record's handle (so a key the node certified for
   ``0.NA/88.118.9`` cannot vouch for ``88.118.8/...``).

The trust anchor takes the place of Handle 9's ``0.0/0.0`` self-signed root
certificate: it is trusted for everything, and its HS_REVOCATION lists (on the
handle its certificates name as issuer) are honoured like any other's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from protocol.constants import TYPE_HS_CERT, TYPE_HS_PUBKEY, TYPE_HS_SIGNATURE
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust.certs import SignedValue, latest_cert_about, revocations_by, signed_value
from registry.trust.claims import PERM_EVERYTHING, Permission, ValueRef, authorizes
from registry.trust.digests import DigestCheck, check_digests
from registry.trust.errors import TrustError
from registry.trust.keys import PublicKey, hs_pubkey_to_public_key, jwk_thumbprint

Fetch = Callable[[str], Awaitable[list[HandleValue] | None]]
MAX_CHAIN_LENGTH = 16

# statuses of one chain link
LINK_OK = "ok"
LINK_BAD_SIGNATURE = "bad-signature"
LINK_EXPIRED = "expired"
LINK_NOT_YET_VALID = "not-yet-valid"
LINK_REVOKED = "revoked"
LINK_UNAUTHORIZED = "unauthorized"
LINK_NO_ISSUER = "no-issuer"
LINK_UNCERTIFIED = "uncertified"
LINK_LOOP = "loop"


class Status(StrEnum):
    """Verdict on a record or one of its signatures."""

    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNTRUSTED = "untrusted"


#: which signature decides a record's verdict: a valid one, else the first most severe failure
_RANK = {
    Status.VALID: 0,
    Status.INVALID: 1,
    Status.REVOKED: 2,
    Status.EXPIRED: 3,
    Status.UNTRUSTED: 4,
}


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One checked JWS value: where it is, what was found, who issued it."""

    handle: str
    index: int
    status: str
    issuer: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """The verdict on one HS_SIGNATURE value and the chain checked for it."""

    index: int
    status: Status
    reason: str
    signer: str = ""
    chain: tuple[ChainLink, ...] = ()
    failed_values: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The verdict on a record; ``signatures`` holds one report per HS_SIGNATURE value."""

    handle: str
    status: Status
    reason: str
    signatures: tuple[SignatureReport, ...] = field(default=())

    @property
    def valid(self) -> bool:
        """True only for a record with a signature that verified up to the anchor."""
        return self.status is Status.VALID

    @property
    def deciding(self) -> SignatureReport | None:
        """The signature report the verdict comes from (None when unsigned)."""
        return next((s for s in self.signatures if s.status is self.status), None)

    @property
    def chain(self) -> tuple[ChainLink, ...]:
        """The chain of the deciding signature, record signature first."""
        return self.deciding.chain if self.deciding else ()

    @property
    def failed_values(self) -> tuple[int, ...]:
        """Indexes of the record's values that failed the deciding signature's digests."""
        return self.deciding.failed_values if self.deciding else ()


@dataclass(frozen=True, slots=True)
class _Issuer:
    key: PublicKey
    perms: tuple[Permission, ...] | None  # None: an uncertified HS_PUBKEY, not judged
    cert: SignedValue | None  # the certificate binding ``key``; None for the anchor or an HS_PUBKEY
    anchored: bool
    revoked: Mapping[str, str]  # thumbprint -> the HS_REVOCATION value listing it


_ANCHOR_PERMS = (Permission("", PERM_EVERYTHING),)


class _Walk:
    """State of one ``verify_record`` call: the anchor, the clock and fetched handles."""

    def __init__(self, handle: str, fetch: Fetch, anchor: PublicKey, now: int) -> None:
        self.handle = handle
        self.fetch = fetch
        self.anchor = anchor
        self.now = now
        self.fetched: dict[str, list[HandleValue] | None] = {}

    async def values_of(self, handle: str) -> list[HandleValue] | None:
        key = name_key(handle)
        if key not in self.fetched:
            self.fetched[key] = await self.fetch(handle)
        return self.fetched[key]

    async def cert_at(self, hint: str, subject: str) -> SignedValue | str:
        """The certificate a ``chain`` entry names for ``subject``, or why there is none."""
        where = ValueRef.parse(hint)
        values = await self.values_of(where.handle)
        if values is None:
            return f"cannot resolve {where.handle} (chain entry {hint!r})"
        if where.index <= 0:
            found = latest_cert_about(where.handle, values, subject)
            return found or (
                f"no HS_CERT on {where.handle} certifies {subject} (chain entry {hint!r})"
            )
        value = next((v for v in values if v.index == where.index), None)
        if value is None or name_key(value.type) != TYPE_HS_CERT:
            return f"chain entry {hint!r} is not an HS_CERT value"
        try:
            cert = signed_value(where.handle, value)
        except TrustError as exc:
            return f"chain entry {hint!r} is not a certificate: {exc}"
        if cert.claims.public_key is None or not ValueRef.parse(cert.claims.sub).same(
            ValueRef.parse(subject)
        ):
            return f"chain entry {hint!r} does not certify {subject}: the chain is broken"
        return cert

    async def issuer_of(
        self, node: SignedValue, *, allow_pubkey: bool, hint: str | None = None
    ) -> _Issuer | str:
        """The issuer of ``node`` (at the ``chain`` entry ``hint`` if given), or why there is
        none."""
        ref = ValueRef.parse(node.claims.iss)
        values = await self.values_of(ref.handle)
        if node.jws.verifies(self.anchor):
            return _Issuer(
                self.anchor,
                _ANCHOR_PERMS,
                None,
                True,
                revocations_by(ref.handle, values or [], self.anchor),
            )
        cert: SignedValue | str | None
        if hint is not None:
            cert = await self.cert_at(hint, node.claims.iss)
            if isinstance(cert, str):
                return cert
        elif values is None:
            return f"cannot resolve {ref.handle}"
        else:
            cert = latest_cert_about(ref.handle, values, node.claims.iss)
        if cert is not None and cert.claims.public_key is not None:
            key = cert.claims.public_key
            return _Issuer(
                key, cert.claims.perms or (), cert, False,
                revocations_by(ref.handle, values or [], key),
            )
        if allow_pubkey and values is not None:
            for value in values:
                if value.index == ref.index and name_key(value.type) == TYPE_HS_PUBKEY:
                    try:
                        return _Issuer(
                            hs_pubkey_to_public_key(value.data), None, None, False, {}
                        )
                    except TrustError as exc:
                        return f"HS_PUBKEY {ref} is unusable: {exc}"
        return f"no HS_CERT on {ref.handle} certifies {node.claims.iss}"

    def link(self, node: SignedValue, issuer: _Issuer) -> ChainLink:
        """The status of ``node`` once its signature is known to verify under ``issuer.key``."""
        status, detail = LINK_OK, ""
        date_problem = node.claims.date_problem(self.now)
        thumbprint = (
            jwk_thumbprint(node.claims.public_key) if node.claims.public_key is not None else ""
        )
        if thumbprint and thumbprint in issuer.revoked:
            status, detail = LINK_REVOKED, (
                f"{node.claims.iss} revoked the key of {node.claims.sub} (key thumbprint "
                f"{thumbprint}, HS_REVOCATION {issuer.revoked[thumbprint]})"
            )
        elif date_problem == "expired":
            status, detail = LINK_EXPIRED, f"expired at {node.claims.exp}"
        elif date_problem:
            status, detail = LINK_NOT_YET_VALID, f"not valid before {node.claims.nbf}"
        elif issuer.perms is not None and not authorizes(issuer.perms, self.handle):
            status, detail = (
                LINK_UNAUTHORIZED,
                f"{node.claims.iss} is not authorised for {self.handle}",
            )
        return ChainLink(node.handle, node.index, status, node.claims.iss, detail)

    async def chain(
        self, node: SignedValue, issuer: _Issuer, hints: list[str]
    ) -> tuple[list[ChainLink], bool]:
        """Links from the record signature ``node`` (already verified under ``issuer``) upwards,
        and whether they reached the anchor; ``hints``: the rest of the ``chain`` claim."""
        links: list[ChainLink] = []
        seen = {(name_key(node.handle), node.index)}
        while True:
            links.append(self.link(node, issuer))
            if issuer.anchored:
                return links, True
            cert = issuer.cert
            if cert is None:
                signer = ValueRef.parse(node.claims.iss)
                detail = f"no HS_CERT binds the HS_PUBKEY {signer}"
                links.append(ChainLink(signer.handle, signer.index, LINK_UNCERTIFIED, "", detail))
                return links, False
            if (name_key(cert.handle), cert.index) in seen or len(links) >= MAX_CHAIN_LENGTH:
                links.append(
                    ChainLink(
                        cert.handle,
                        cert.index,
                        LINK_LOOP,
                        cert.claims.iss,
                        "the chain does not reach the trust anchor",
                    )
                )
                return links, False
            seen.add((name_key(cert.handle), cert.index))
            node = cert
            hints = hints or list(node.claims.chain or ())
            found = await self.issuer_of(
                node, allow_pubkey=False, hint=hints.pop(0) if hints else None
            )
            if isinstance(found, str):
                links.append(
                    ChainLink(node.handle, node.index, LINK_NO_ISSUER, node.claims.iss, found)
                )
                return links, False
            if not node.jws.verifies(found.key):
                links.append(
                    ChainLink(
                        node.handle,
                        node.index,
                        LINK_BAD_SIGNATURE,
                        node.claims.iss,
                        f"does not verify under the key of {node.claims.iss}",
                    )
                )
                return links, False
            issuer = found


def _digest_problem(check: DigestCheck) -> str:
    parts = [f"value {i} does not match its signed digest" for i in check.bad]
    parts += [f"value {i} was signed but is missing" for i in check.missing]
    parts += [f"value {i} is not covered by the signature" for i in check.unsigned]
    return "; ".join(parts)


def _chain_verdict(links: list[ChainLink], anchored: bool) -> tuple[Status, str]:
    for status, link_statuses in (
        (Status.REVOKED, (LINK_REVOKED,)),
        (Status.EXPIRED, (LINK_EXPIRED, LINK_NOT_YET_VALID)),
        (Status.UNTRUSTED, (LINK_UNAUTHORIZED,)),
    ):
        for link in links:
            if link.status in link_statuses:
                return status, f"{link.status} at {link.index}:{link.handle}: {link.detail}"
    if not anchored:
        last = links[-1]
        return Status.UNTRUSTED, f"{last.status} at {last.index}:{last.handle}: {last.detail}"
    return Status.VALID, "signature verified up to the trust anchor"


async def _verify_signature(
    walk: _Walk, values: Sequence[HandleValue], value: HandleValue
) -> SignatureReport:
    index, handle = value.index, walk.handle
    try:
        node = signed_value(handle, value)
    except TrustError as exc:
        return SignatureReport(
            index, Status.INVALID, f"HS_SIGNATURE {index} is not a signed claims set: {exc}"
        )
    signer = node.claims.iss
    if name_key(node.claims.sub) != name_key(handle):
        return SignatureReport(
            index,
            Status.INVALID,
            f"HS_SIGNATURE {index} signs {node.claims.sub!r}, not {handle}",
            signer,
        )
    if node.claims.digests is None:
        return SignatureReport(
            index, Status.INVALID, f"HS_SIGNATURE {index} has no digests", signer
        )
    hints = list(node.claims.chain or ())
    found = await walk.issuer_of(node, allow_pubkey=True, hint=hints.pop(0) if hints else None)
    if isinstance(found, str):
        link = ChainLink(handle, index, LINK_NO_ISSUER, signer, found)
        return SignatureReport(index, Status.UNTRUSTED, found, signer, (link,))
    if not node.jws.verifies(found.key):
        reason = f"HS_SIGNATURE {index} does not verify under the key of {signer}"
        return SignatureReport(
            index,
            Status.INVALID,
            reason,
            signer,
            (ChainLink(handle, index, LINK_BAD_SIGNATURE, signer, reason),),
        )
    try:
        check = check_digests(node.claims.digests, values)
    except TrustError as exc:
        return SignatureReport(index, Status.INVALID, f"HS_SIGNATURE {index}: {exc}", signer)
    if not check.ok:
        failed = tuple(sorted({*check.bad, *check.missing, *check.unsigned}))
        return SignatureReport(
            index, Status.INVALID, _digest_problem(check), signer, failed_values=failed
        )
    links, anchored = await walk.chain(node, found, hints)
    status, reason = _chain_verdict(links, anchored)
    return SignatureReport(index, status, reason, signer, tuple(links))


async def verify_cert(
    handle: str,
    value: HandleValue,
    *,
    fetch: Fetch,
    trust_anchor: PublicKey,
    now: int | None = None,
) -> tuple[Status, str, tuple[ChainLink, ...]]:
    """The verdict on the HS_CERT ``value`` of ``handle``: its chain up to ``trust_anchor``
    (dates, revocation, each issuer's authority over ``handle``), with the reason."""
    walk = _Walk(handle, fetch, trust_anchor, int(time.time()) if now is None else now)
    try:
        node = signed_value(handle, value)
    except TrustError as exc:
        return Status.INVALID, f"HS_CERT {value.index} is not a signed claims set: {exc}", ()
    hints = list(node.claims.chain or ())
    found = await walk.issuer_of(node, allow_pubkey=False, hint=hints.pop(0) if hints else None)
    if isinstance(found, str):
        link = ChainLink(handle, value.index, LINK_NO_ISSUER, node.claims.iss, found)
        return Status.UNTRUSTED, found, (link,)
    if not node.jws.verifies(found.key):
        reason = f"HS_CERT {value.index} does not verify under the key of {node.claims.iss}"
        link = ChainLink(handle, value.index, LINK_BAD_SIGNATURE, node.claims.iss, reason)
        return Status.INVALID, reason, (link,)
    links, anchored = await walk.chain(node, found, hints)
    status, reason = _chain_verdict(links, anchored)
    return status, reason, tuple(links)


async def chain_hint(fetch: Fetch, signer: str) -> tuple[str, ...]:
    """The ``chain`` claim for a signature by ``signer`` (``"INDEX:HANDLE"``): the handles
    holding the certificates from the signer's up, as far as ``fetch`` finds them."""
    handles: list[str] = []
    subject = signer
    while len(handles) < MAX_CHAIN_LENGTH:
        holder = ValueRef.parse(subject).handle
        cert = latest_cert_about(holder, await fetch(holder) or [], subject)
        if cert is None or name_key(holder) in map(name_key, handles):
            break
        handles.append(holder)
        subject = cert.claims.iss
    return tuple(handles)


async def verify_record(
    handle: str,
    values: Sequence[HandleValue],
    *,
    fetch: Fetch,
    trust_anchor: PublicKey,
    now: int | None = None,
) -> VerificationReport:
    """Check every HS_SIGNATURE of ``handle``'s ``values`` up to ``trust_anchor``.

    ``values`` must be the whole public record (signatures cover every public
    value).  ``fetch(handle)`` returns another handle's values or None when it
    cannot be resolved; errors it raises propagate.  ``now`` is epoch seconds
    (default: the current time).  The record is ``valid`` if one signature is.
    """
    walk = _Walk(handle, fetch, trust_anchor, int(time.time()) if now is None else now)
    signatures = [v for v in values if name_key(v.type) == TYPE_HS_SIGNATURE]
    if not signatures:
        return VerificationReport(handle, Status.UNSIGNED, "the record has no HS_SIGNATURE value")
    reports = tuple([await _verify_signature(walk, values, v) for v in signatures])
    decisive = min(reports, key=lambda r: _RANK[r.status])
    return VerificationReport(handle, decisive.status, decisive.reason, reports)
