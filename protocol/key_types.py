"""The key types idnode knows, by name: the one table every package reads.

* ``dsa``: HS_PUBKEY ``DSA_PUB_KEY``, no JWS; signs Handle messages (CNRI, older keys)
* ``rsa``: ``RSA_PUB_KEY``, JWS ``RS256``; Handle messages and signed values
* ``ed25519``: ``ED25519_PUB_KEY``, ``EdDSA``; signed values (extension)
* ``p256``: ``EC_PUB_KEY``, ``ES256``; signed values (extension)
* ``sm2``: ``SM2_PUB_KEY``, ``SM2SM3``; signed values (extension)

The Handle protocol itself (challenge answers, certified responses, session
setup) signs with RSA and DSA only: :data:`HANDLE_KEY_TYPES`, whose key objects
are :data:`HandlePrivateKey` / :data:`HandlePublicKey`.  Signed values (JWS in
HS_SIGNATURE and HS_CERT, :mod:`registry.trust`) use :data:`JWS_KEY_TYPES`,
one algorithm each (:data:`JWS_ALGORITHMS`).  CNRI 9.x has HS_PUBKEY layouts
for DSA, RSA and DH only; the three extension labels keep the same shape
(label, two reserved flag octets, byte arrays), see
:func:`registry.trust.keys.public_key_to_hs_pubkey`.  ``DH_PUB_KEY`` is a
session key-exchange key, never a signing key, so it has no name here.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.constants import KEY_ENCODING_DSA_PUBLIC, KEY_ENCODING_RSA_PUBLIC
from protocol.dsa_keys import DSAPrivateKey, DSAPublicKey

DSA: Final = "dsa"
RSA: Final = "rsa"
ED25519: Final = "ed25519"
P256: Final = "p256"
SM2: Final = "sm2"

#: HS_PUBKEY key-type label of each key type
HS_PUBKEY_LABELS: Final[dict[str, bytes]] = {
    DSA: KEY_ENCODING_DSA_PUBLIC,
    RSA: KEY_ENCODING_RSA_PUBLIC,
    ED25519: b"ED25519_PUB_KEY",
    P256: b"EC_PUB_KEY",
    SM2: b"SM2_PUB_KEY",
}

#: the key types the Handle protocol signs messages with
HANDLE_KEY_TYPES: Final = (RSA, DSA)
#: the key types HS_SIGNATURE / HS_CERT values are signed with, and each one's JWS ``alg``
JWS_ALGORITHMS: Final[dict[str, str]] = {
    ED25519: "EdDSA", P256: "ES256", RSA: "RS256", SM2: "SM2SM3",
}
JWS_KEY_TYPES: Final = tuple(JWS_ALGORITHMS)

HandlePrivateKey = DSAPrivateKey | rsa.RSAPrivateKey
HandlePublicKey = DSAPublicKey | rsa.RSAPublicKey


def handle_signing_key(key: object) -> HandlePrivateKey | None:
    """``key`` when the Handle protocol can sign with it (RSA or DSA), else None."""
    return key if isinstance(key, DSAPrivateKey | rsa.RSAPrivateKey) else None


def handle_key_types_text() -> str:
    """``RSA or DSA``: the Handle key types for a message to a person."""
    return " or ".join(name.upper() for name in HANDLE_KEY_TYPES)
