"""Record signing and trust: keys, JWS, HS_CERT chains, HS_SIGNATURE values, verification.

The formats follow CNRI Handle 9 (``net.handle.hdllib.trust``); see the module
docstrings of :mod:`registry.trust.signatures` (HS_SIGNATURE),
:mod:`registry.trust.certs` (HS_CERT and our HS_REVOCATION) and
:mod:`registry.trust.verify` (the chain walk).
"""

from registry.trust.certs import TYPE_HS_REVOCATION, issue_cert, issue_revocation
from registry.trust.claims import Permission, prefix_permissions
from registry.trust.errors import ClaimsError, JwsError, KeyLoadError, TrustError
from registry.trust.keys import (
    PrivateKey,
    PublicKey,
    generate_key,
    hs_pubkey_to_public_key,
    jwk_to_public_key,
    load_private_key,
    private_key_to_pem,
    public_key_to_hs_pubkey,
    public_key_to_jwk,
)
from registry.trust.signatures import sign_record
from registry.trust.verify import (
    ChainLink,
    SignatureReport,
    Status,
    VerificationReport,
    verify_record,
)

__all__ = [
    "TYPE_HS_REVOCATION",
    "ChainLink",
    "ClaimsError",
    "JwsError",
    "KeyLoadError",
    "Permission",
    "PrivateKey",
    "PublicKey",
    "SignatureReport",
    "Status",
    "TrustError",
    "VerificationReport",
    "generate_key",
    "hs_pubkey_to_public_key",
    "issue_cert",
    "issue_revocation",
    "jwk_to_public_key",
    "load_private_key",
    "prefix_permissions",
    "private_key_to_pem",
    "public_key_to_hs_pubkey",
    "public_key_to_jwk",
    "sign_record",
    "verify_record",
]
