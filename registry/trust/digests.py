"""Per-value digests of a handle record (Handle 9 ``HandleValueDigester``).

A value's digest is the hash of its wire encoding (:func:`protocol.value_codec.encode_value`)
without the first eight octets, i.e. without the index and the timestamp: the
index is named next to the digest instead, and a timestamp refreshed by a
server does not break the signature.  Digests are standard base64 with
padding, as Handle 9 writes them.

Which values a signature covers is Handle 9's rule too: every publicly
readable value except HS_SIGNATURE values themselves.

``SM3`` (GB/T 32905-2016, from ``cryptography``) is accepted next to the SHA-2
labels, and is what records signed with an SM2 key use, so that such a record
is SM2/SM3 throughout as the national identifier system expects.  Handle 9
does not know the label and cannot check those digests.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from protocol.constants import TYPE_HS_SIGNATURE
from protocol.value_codec import encode_value
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust.claims import Digests
from registry.trust.errors import TrustError

DEFAULT_ALG = "SHA-256"
SM3_ALG = "SM3"
#: digest labels accepted on input (Java ``MessageDigest`` names, and SM3) -> hashes;
#: SHA-1 and MD5 are refused as too weak to bind a record
ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
    SM3_ALG: hashes.SM3,
}
_SKIPPED = 8  # index:int4 timestamp:int4 (``VALUE_DIGEST_OFFSET``)


def covered(values: Sequence[HandleValue]) -> list[HandleValue]:
    """The values a record signature covers: public ones other than HS_SIGNATURE."""
    return [v for v in values if v.public_read and name_key(v.type) != TYPE_HS_SIGNATURE]


def digest(data: bytes, alg: str = DEFAULT_ALG) -> bytes:
    """The ``alg`` hash of ``data`` (``alg`` a label of :data:`ALGORITHMS`, any case)."""
    algorithm = ALGORITHMS.get(alg.upper())
    if algorithm is None:
        raise TrustError(f"unsupported digest algorithm {alg!r}")
    h = hashes.Hash(algorithm())
    h.update(data)
    return h.finalize()


def value_digest(value: HandleValue, alg: str = DEFAULT_ALG) -> str:
    """Base64 digest of one value's encoding after index and timestamp."""
    return base64.b64encode(digest(encode_value(value)[_SKIPPED:], alg)).decode("ascii")


def digest_values(values: Sequence[HandleValue], alg: str = DEFAULT_ALG) -> Digests:
    """The ``digests`` claim for the covered values of a record."""
    return Digests(alg, tuple((v.index, value_digest(v, alg)) for v in covered(values)))


@dataclass(frozen=True, slots=True)
class DigestCheck:
    """Outcome of comparing claimed digests with a record's values (indexes, ascending).

    ``bad``: present but changed; ``missing``: signed but gone; ``unsigned``:
    present and needing a signature but not named by the claim.
    """

    bad: tuple[int, ...]
    missing: tuple[int, ...]
    unsigned: tuple[int, ...]

    @property
    def ok(self) -> bool:
        """Every covered value is signed and unchanged, and none is missing."""
        return not (self.bad or self.missing or self.unsigned)


def check_digests(claimed: Digests, values: Sequence[HandleValue]) -> DigestCheck:
    """Compare ``claimed`` with ``values`` (Handle 9 ``HandleVerifier.verifyValues``)."""
    expected = dict(claimed.digests)
    actual = {v.index: v for v in covered(values)}
    bad = [
        i
        for i, v in actual.items()
        if i in expected and value_digest(v, claimed.alg) != expected[i]
    ]
    return DigestCheck(
        bad=tuple(sorted(bad)),
        missing=tuple(sorted(set(expected) - set(actual))),
        unsigned=tuple(sorted(set(actual) - set(expected))),
    )
