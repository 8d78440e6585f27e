"""HS_SIGNATURE values: a record signed by a key (Handle 9 ``HandleSigner.signHandleValues``).

The value's data is a JWS (compact serialisation) whose claims are::

    {"iss": "300:0.NA/88.118.8", "sub": "88.118.8/TV-0001", "iat": ..., "nbf": ..., "exp": ...,
     "digests": {"alg": "SHA-256", "digests": [{"index": 1, "digest": "<base64>"}, ...]},
     "chain": ["0.NA/88.118.8", "0.NA/88.118"]}

``digests`` covers every public value of the record other than HS_SIGNATURE
values (see :mod:`registry.trust.digests`), so sign the record as it will be
stored, and sign again after any change.  The digests are SHA-256, or SM3
when the key is an SM2 key (an all-SM2/SM3 signature).  ``chain`` (optional,
Handle 9) lists where the certificates above the signer are, nearest first: bare
handles, meaning "the latest HS_CERT about the previous issuer on this handle",
so a renewed certificate does not break older signatures.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.constants import TYPE_HS_SIGNATURE
from protocol.values import HandleValue
from registry.trust.certs import claims_value
from registry.trust.claims import HandleClaims, ValueRef
from registry.trust.digests import DEFAULT_ALG, SM3_ALG, digest_values
from registry.trust.errors import TrustError
from registry.trust.keys import PrivateKey, key_type_of

FIRST_SIGNATURE_INDEX = 400


def next_free_index(values: Sequence[HandleValue], first: int = FIRST_SIGNATURE_INDEX) -> int:
    """The lowest index from ``first`` on not used by ``values`` (``getNextUnusedIndex``)."""
    used = {v.index for v in values}
    index = first
    while index in used:
        index += 1
    return index


def sign_record(
    handle: str,
    values: Sequence[HandleValue],
    signer_handle: str,
    signer_index: int,
    key: PrivateKey,
    issued: int,
    expires: int,
    *,
    index: int | None = None,
    chain: Sequence[str] = (),
) -> HandleValue:
    """An HS_SIGNATURE value over ``handle``'s ``values``, issued by ``signer_index:signer_handle``.

    The signature is valid from ``issued`` (``iat`` and ``nbf``) until
    ``expires``.  ``index`` defaults to the first index from 400 on that
    ``values`` leave free; ``chain`` becomes the ``chain`` claim when not empty.
    """
    if expires <= issued:
        raise TrustError("a signature must expire after it is issued")
    claims = HandleClaims(
        iss=str(ValueRef(signer_handle, signer_index)),
        sub=handle,
        iat=issued,
        nbf=issued,
        exp=expires,
        digests=digest_values(values, SM3_ALG if key_type_of(key) == "sm2" else DEFAULT_ALG),
        chain=tuple(chain) or None,
    )
    return claims_value(
        next_free_index(values) if index is None else index, TYPE_HS_SIGNATURE, claims, key
    )
