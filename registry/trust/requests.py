"""Certificate requests: the HS_CERT counterpart of a CSR, checked before anyone acts on one.

A request is a compact JWS, signed by the key it wants certified, of a Handle
claims set naming the subject as both issuer and subject and carrying the public
key (``idnode cert request`` writes one).  :func:`check_request` is the single
check every path runs (the CLI's request file, the REST queue, approval).
"""

from __future__ import annotations

from registry.trust.claims import HandleClaims, ValueRef
from registry.trust.errors import TrustError
from registry.trust.jws import parse
from registry.trust.keys import PublicKey

#: a request is one small JWS; anything larger is refused unread
MAX_REQUEST_BYTES = 64 * 1024


class RequestError(TrustError):
    """A certificate request is malformed, not self-signed, expired or too large."""


def check_request(data: bytes, now: int) -> tuple[ValueRef, PublicKey]:
    """The subject and key of the request ``data`` once its self-signature verifies and it
    is valid at ``now``; :class:`RequestError` naming the problem otherwise."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestError(f"more than {MAX_REQUEST_BYTES} bytes: not a request")
    try:
        jws = parse(data.strip())
        claims = HandleClaims.from_json(jws.payload)
    except TrustError as exc:
        raise RequestError(f"not a certificate request: {exc}") from None
    key = claims.public_key
    if key is None or claims.iss != claims.sub:
        raise RequestError("not a certificate request (no publicKey, or iss != sub)")
    if not jws.verifies(key):
        raise RequestError("the request is not signed by the key it asks to certify")
    problem = claims.date_problem(now)
    if problem:
        raise RequestError(f"the request is {problem}")
    subject = ValueRef.parse(claims.sub)
    if "/" not in subject.handle or subject.index <= 0:
        raise RequestError(f"the subject {claims.sub!r} is not INDEX:HANDLE")
    return subject, key
