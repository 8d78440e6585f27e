"""Request digests: the hash of a request's header and body that a response
(and every challenge) carries, identified by a one-octet code.

``AbstractResponse.takeDigestOfRequest``: protocol < 2.1 uses MD5 in the old,
length-prefixed format (code 0), 2.1 to 2.6 SHA-1 (code 2), 2.7 and later
SHA-256 (code 3).  ``Util.doDigest`` maps codes 0 and 1 to MD5.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from protocol.constants import (
    HASH_CODE_MD5,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
)
from protocol.errors import ProtocolError
from protocol.versions import at_least

_HASHES = {
    HASH_CODE_MD5_OLD_FORMAT: "md5",
    HASH_CODE_MD5: "md5",
    HASH_CODE_SHA1: "sha1",
    HASH_CODE_SHA256: "sha256",
}


@dataclass(frozen=True, slots=True)
class RequestDigest:
    """A digest of a request: ``alg`` is a HASH_CODE_* octet, ``digest`` the hash."""

    alg: int
    digest: bytes


def digest(alg: int, *parts: bytes) -> bytes:
    """``Util.doDigest(code, parts...)``: hash the concatenation of ``parts``."""
    name = _HASHES.get(alg)
    if name is None:
        raise ProtocolError(f"invalid hash type: {alg}")
    h = hashlib.new(name, usedforsecurity=False) if name != "sha256" else hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def digest_alg_for_version(major: int, minor: int) -> int:
    """The request-digest code a response of protocol ``major.minor`` uses."""
    if not at_least(major, minor, 2, 1):
        return HASH_CODE_MD5_OLD_FORMAT
    if at_least(major, minor, 2, 7):
        return HASH_CODE_SHA256
    return HASH_CODE_SHA1


def make_request_digest(encoded_request: bytes, alg: int) -> RequestDigest:
    """Digest of a request's header+body bytes (no envelope, no credential)."""
    return RequestDigest(alg, digest(alg, encoded_request))
