"""JSON Web Signatures (RFC 7515) in the shape Handle 9 reads and writes.

Like ``net.handle.hdllib.trust.JsonWebSignatureImpl``: the protected header is
just ``{"alg":"..."}``; values are stored in the compact serialisation
(``header.payload.signature``, what Handle 9's ``serialize()`` writes into
HS_SIGNATURE and HS_CERT values) and the JSON serialisation
(``{"payload":...,"signatures":[{"protected":...,"signature":...}]}``, first
signature only) is accepted on input.

Why no JOSE library: none is installed in this project, and the format needs
byte-exact control of the protected header (Handle 9 emits and expects only
``alg``), one fixed algorithm per key type with no algorithm negotiation (so no
``alg: none`` or HMAC-with-a-public-key confusion is possible), and EdDSA,
which several JOSE libraries still lack.  The whole of JWS used here is
base64url plus one ``cryptography`` sign/verify call, written out below.

SM2 (``alg`` ``SM2SM3``): JOSE has no registered SM2 algorithm.  We use the
name ``SM2SM3`` (SM2 signature over the SM3 hash, GB/T 32918.2), the spelling
some Chinese JOSE profiles and libraries use; the signature is ``r || s``,
32 octets each, big-endian, exactly like ES256 (RFC 7518 3.4), not the DER
``SEQUENCE {r, s}`` that GB/T 35276 and X.509 use.  The signer ID is the
GM/T 0009-2012 default ``1234567812345678``: the header carries no other ID
and a verifier must reject a header that names one (we reject any ``crit``).
Interop: a peer must map ``SM2SM3`` to this exact form (raw ``r || s``,
default ID, ``Z_A`` computed from the key in the JWK/HS_PUBKEY, the message
being the JWS signing input); tools that expect ``SM3withSM2`` with a DER
signature need a DER-to-raw conversion first.  Handle 9 knows no SM2 and
reports such values as signed with an unknown algorithm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from protocol.key_types import JWS_ALGORITHMS
from registry.trust.errors import JwsError, TrustError
from registry.trust.keys import PrivateKey, PublicKey, b64url, b64url_decode, key_type_of
from registry.trust.sm2 import Sm2PrivateKey, Sm2PublicKey

_P256_SIZE = 32


@dataclass(frozen=True, slots=True)
class Jws:
    """One JWS: the base64url header and payload as signed, and the raw signature."""

    protected: str
    payload_b64: str
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` of the protected header."""
        return header_alg(self.protected)

    @property
    def payload(self) -> bytes:
        """The signed payload octets."""
        try:
            return b64url_decode(self.payload_b64)
        except TrustError as exc:
            raise JwsError(f"bad JWS payload: {exc}") from None

    def signing_input(self) -> bytes:
        """``BASE64URL(header) '.' BASE64URL(payload)``, the octets the signature covers."""
        return f"{self.protected}.{self.payload_b64}".encode("ascii")

    def verifies(self, key: PublicKey) -> bool:
        """Whether the signature is valid under ``key`` (False for a malformed JWS too)."""
        try:
            alg = self.alg
            return JWS_ALGORITHMS.get(key_type_of(key)) == alg and _verify(
                key, self.signature, self.signing_input()
            )
        except (InvalidSignature, TrustError, ValueError):
            return False

    def compact(self) -> str:
        """The compact serialisation (what Handle 9 stores in a value)."""
        return f"{self.protected}.{self.payload_b64}.{b64url(self.signature)}"

    def to_json(self) -> str:
        """The general JSON serialisation with one signature (Handle 9 ``serializeToJson``)."""
        return json.dumps(
            {
                "payload": self.payload_b64,
                "signatures": [{"protected": self.protected, "signature": b64url(self.signature)}],
            },
            separators=(",", ":"),
        )


def header_alg(protected: str) -> str:
    """The ``alg`` of a base64url protected header; :class:`JwsError` if it has none."""
    try:
        header = json.loads(b64url_decode(protected))
    except (ValueError, TrustError) as exc:
        raise JwsError(f"bad JWS header: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise JwsError("JWS header has no alg")
    if "crit" in header:
        raise JwsError("JWS header has critical extensions this verifier does not know")
    return str(header["alg"])


def sign(payload: bytes, key: PrivateKey) -> Jws:
    """A JWS over ``payload`` with the one algorithm of ``key``'s type."""
    alg = JWS_ALGORITHMS[key_type_of(key)]
    protected = b64url(json.dumps({"alg": alg}, separators=(",", ":")).encode("ascii"))
    payload_b64 = b64url(payload)
    return Jws(protected, payload_b64, _sign(key, f"{protected}.{payload_b64}".encode("ascii")))


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey | Sm2PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(_P256_SIZE, "big") + s.to_bytes(_P256_SIZE, "big")
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _verify(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Raises InvalidSignature (or returns False) when ``signature`` does not verify."""
    if isinstance(key, ed25519.Ed25519PublicKey | Sm2PublicKey):
        key.verify(signature, data)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if len(signature) != 2 * _P256_SIZE:
            return False
        r, s = (
            int.from_bytes(signature[:_P256_SIZE], "big"),
            int.from_bytes(signature[_P256_SIZE:], "big"),
        )
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        return False
    return True


def parse(text: str | bytes) -> Jws:
    """A JWS from its compact or JSON serialisation (as ``JsonWebSignatureImpl(String)``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise JwsError("JWS is not UTF-8 text") from None
    text = text.strip()
    try:
        if text.startswith("{"):
            obj = json.loads(text)
            first = obj["signatures"][0]
            protected, payload, signature = first["protected"], obj["payload"], first["signature"]
        else:
            protected, payload, signature = text.split(".")
        if not all(isinstance(part, str) for part in (protected, payload, signature)):
            raise JwsError("JWS parts must be strings")
        raw_signature = b64url_decode(signature)
    except (ValueError, KeyError, IndexError, TypeError, TrustError) as exc:
        raise JwsError(f"not a JWS: {exc}") from None
    header_alg(protected)
    return Jws(protected, payload, raw_signature)
