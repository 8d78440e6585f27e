"""HS_CERT certificates and HS_REVOCATION lists.

An HS_CERT value is a JWS (compact serialisation) whose Handle claims are, as
Handle 9 ``HandleSigner.signPermissions`` writes them::

    {"iss": "300:0.NA/88.118", "sub": "300:0.NA/88.118.8", "iat": ..., "nbf": ..., "exp": ...,
     "publicKey": {<JWK>}, "perms": [{"handle": "0.NA/88.118.8", "perm": "handlesUnderThisPrefix"}]}

It binds the subject's key to the subject value reference and is stored on
the subject's handle: the root's certificate for the node on ``0.NA/88.118``,
the node's certificate for an enterprise on ``0.NA/88.118.8``.  A chain is
followed the Handle 9 way (``ChainBuilder``): for a signature issued by
``iss``, look on ``iss``'s handle for the latest HS_CERT (by ``iat``) whose
``sub`` is ``iss``.  Issuing a newer certificate therefore replaces an older one.

Handle 9 has no revocation.  Ours is an HS_REVOCATION value on the *issuer's*
handle (where the subject cannot remove it), a JWS signed by the issuer's key
with ``{"iss", "sub": iss, "iat", "revoked": [{"jkt": <RFC 7638 thumbprint>}]}``.
A verifier honours a list only if it verifies under the key of the issuer
whose certificate it is checking, and treats every certificate for a listed
key by that issuer as revoked, whatever its dates: a compromised key can
back-date what it signs, so nothing signed by it is grandfathered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol.constants import TYPE_HS_CERT
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust.claims import HandleClaims, Permission, ValueRef
from registry.trust.errors import TrustError
from registry.trust.jws import Jws, parse, sign
from registry.trust.keys import PrivateKey, PublicKey, jwk_thumbprint

TYPE_HS_REVOCATION = "HS_REVOCATION"
DEFAULT_CERT_INDEX = 400
DEFAULT_REVOCATION_INDEX = 410


@dataclass(frozen=True, slots=True)
class SignedValue:
    """A JWS-carrying value (HS_SIGNATURE, HS_CERT, HS_REVOCATION), parsed."""

    handle: str
    index: int
    jws: Jws
    claims: HandleClaims


def signed_value(handle: str, value: HandleValue) -> SignedValue:
    """Parse ``value``'s data as a JWS with Handle claims; :class:`TrustError` if it is not."""
    jws = parse(value.data)
    return SignedValue(handle, value.index, jws, HandleClaims.from_json(jws.payload))


def signed_values(handle: str, values: Iterable[HandleValue], value_type: str) -> list[SignedValue]:
    """Every value of ``value_type`` that parses; malformed ones are skipped."""
    found = []
    for value in values:
        if name_key(value.type) == value_type:
            try:
                found.append(signed_value(handle, value))
            except TrustError:
                continue
    return found


def claims_value(index: int, value_type: str, claims: HandleClaims, key: PrivateKey) -> HandleValue:
    """A value of ``value_type`` whose data is the compact JWS of ``claims`` signed by ``key``."""
    return HandleValue(
        index=index, type=value_type, data=sign(claims.to_json(), key).compact().encode("ascii")
    )


def issue_cert(
    issuer_handle: str,
    issuer_index: int,
    issuer_key: PrivateKey,
    subject_handle: str,
    subject_index: int,
    subject_public_key: PublicKey,
    not_before: int,
    expires: int,
    perms: Sequence[Permission],
    *,
    issued: int | None = None,
    index: int = DEFAULT_CERT_INDEX,
) -> HandleValue:
    """An HS_CERT value (for ``subject_handle``) binding ``subject_public_key`` and ``perms``
    to ``subject_index:subject_handle``, signed by ``issuer_key`` as ``issuer_index:issuer_handle``.

    ``issued`` (``iat``, default ``not_before``) decides which of several
    certificates for one subject is current: the latest.
    """
    if expires <= not_before:
        raise TrustError("a certificate must expire after it becomes valid")
    claims = HandleClaims(
        iss=str(ValueRef(issuer_handle, issuer_index)),
        sub=str(ValueRef(subject_handle, subject_index)),
        iat=not_before if issued is None else issued,
        nbf=not_before,
        exp=expires,
        public_key=subject_public_key,
        perms=tuple(perms),
    )
    return claims_value(index, TYPE_HS_CERT, claims, issuer_key)


def latest_cert_about(
    handle: str, values: Iterable[HandleValue], subject: str
) -> SignedValue | None:
    """The HS_CERT on ``handle`` about ``subject`` with the latest ``iat``.

    As Handle 9 ``ChainBuilder.getLatestHsCertAboutSubject``.
    """
    ref = ValueRef.parse(subject)
    certs = [
        c
        for c in signed_values(handle, values, TYPE_HS_CERT)
        if c.claims.public_key is not None and ValueRef.parse(c.claims.sub).same(ref)
    ]
    return max(certs, key=lambda c: c.claims.iat or 0, default=None)


def issue_revocation(
    issuer_handle: str,
    issuer_index: int,
    issuer_key: PrivateKey,
    revoked_keys: Iterable[PublicKey],
    issued: int,
    *,
    index: int = DEFAULT_REVOCATION_INDEX,
) -> HandleValue:
    """An HS_REVOCATION value for the issuer's own handle listing keys it no longer vouches for.

    A list replaces nothing: publish the whole current list (a later list for
    the same issuer should repeat earlier entries) or add further values.
    """
    ref = str(ValueRef(issuer_handle, issuer_index))
    thumbprints = tuple(sorted({jwk_thumbprint(k) for k in revoked_keys}))
    claims = HandleClaims(iss=ref, sub=ref, iat=issued, revoked=thumbprints)
    return claims_value(index, TYPE_HS_REVOCATION, claims, issuer_key)


def revoked_by(handle: str, values: Iterable[HandleValue], issuer_key: PublicKey) -> frozenset[str]:
    """Thumbprints that HS_REVOCATION values on ``handle`` signed by ``issuer_key`` list."""
    return frozenset(revocations_by(handle, values, issuer_key))


def revocations_by(
    handle: str, values: Iterable[HandleValue], issuer_key: PublicKey
) -> dict[str, str]:
    """Each thumbprint HS_REVOCATION values on ``handle`` signed by ``issuer_key`` list,
    with the value (``INDEX:HANDLE``) that revokes it first."""
    revoked: dict[str, str] = {}
    for rev in signed_values(handle, values, TYPE_HS_REVOCATION):
        if rev.claims.revoked and rev.jws.verifies(issuer_key):
            for thumbprint in rev.claims.revoked:
                revoked.setdefault(thumbprint, f"{rev.index}:{rev.handle}")
    return revoked
