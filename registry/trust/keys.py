"""Signing keys: generation, PEM storage, JWK form and HS_PUBKEY value data.

The key types, their names, HS_PUBKEY labels and JWS algorithms are the table
of :mod:`protocol.key_types`; this module makes and reads the key objects of
its four signed-value types (:data:`protocol.key_types.JWS_KEY_TYPES`):

=============  ==========  ====================================
``ed25519``    ``EdDSA``   RFC 8037, JWK ``kty`` ``OKP``
``p256``       ``ES256``   ECDSA P-256 / SHA-256, JWK ``kty`` ``EC``
``rsa``        ``RS256``   RSA PKCS#1 v1.5 / SHA-256, JWK ``kty`` ``RSA``
``sm2``        ``SM2SM3``  SM2 / SM3 (GB/T 32918.2), JWK ``kty`` ``EC``, ``crv`` ``SM2``
=============  ==========  ====================================

:func:`load_handle_signing_key` reads the RSA or DSA key the Handle protocol
signs messages with (server and administrator keys).

Handle 9 signs with RSA (and DSA) only; RS256 values made here verify in
Handle 9, the other three are extensions.  SM2 keys are
:class:`registry.trust.sm2.Sm2PrivateKey` objects (``cryptography`` has no SM2);
their files are PKCS#8 PEM in OpenSSL 3's layout when unencrypted, and the
idnode form of :mod:`registry.trust.sm2_pem` when encrypted.  The JWK form is what Handle 9's
``GsonUtility.PublicKeyTypeHierarchyAdapter`` writes into the ``publicKey``
claim (``kty``, ``n``, ``e`` for RSA), extended with the RFC 7518/8037 members
for EC and OKP keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from protocol.errors import ProtocolError
from protocol.key_types import (
    ED25519,
    HS_PUBKEY_LABELS,
    JWS_KEY_TYPES,
    P256,
    RSA,
    SM2,
    HandlePrivateKey,
    handle_signing_key,
)
from protocol.public_key import decode_public_key, encode_public_key
from protocol.wire import Reader, Writer
from registry.trust import sm2_pem
from registry.trust.errors import (
    KeyLoadError,
    PassphraseNeeded,
    PassphraseNotExpected,
    TrustError,
    WrongPassphrase,
)
from registry.trust.sm2 import SIZE as SM2_SIZE
from registry.trust.sm2 import Sm2PrivateKey, Sm2PublicKey

PrivateKey = (
    ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Sm2PrivateKey
)
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey | Sm2PublicKey

MIN_RSA_BITS = 2048

_HS_PUBKEY_ED25519 = HS_PUBKEY_LABELS[ED25519]
_HS_PUBKEY_EC = HS_PUBKEY_LABELS[P256]
_HS_PUBKEY_SM2 = HS_PUBKEY_LABELS[SM2]
_P256_NAME = b"P-256"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def generate_key(key_type: str = ED25519, *, rsa_bits: int = 3072) -> PrivateKey:
    """A new private key of ``key_type`` (one of :data:`protocol.key_types.JWS_KEY_TYPES`)."""
    if key_type == ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == RSA:
        if rsa_bits < MIN_RSA_BITS:
            raise TrustError(f"RSA keys must have at least {MIN_RSA_BITS} bits, not {rsa_bits}")
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if key_type == SM2:
        return Sm2PrivateKey.generate()
    raise TrustError(f"unknown key type {key_type!r}; use one of {', '.join(JWS_KEY_TYPES)}")


def _encoded_passphrase(passphrase: str | bytes | None) -> bytes | None:
    if passphrase is None or passphrase in ("", b""):
        return None
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase


def private_key_to_pem(key: PrivateKey, passphrase: str | bytes | None = None) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted with ``passphrase`` when one is given."""
    secret = _encoded_passphrase(passphrase)
    if isinstance(key, Sm2PrivateKey):
        return sm2_pem.private_key_to_pem(key, secret)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _load_pem_private_key(pem: bytes, passphrase: str | bytes | None) -> object:
    secret = _encoded_passphrase(passphrase)
    if sm2_pem.is_sm2_private_pem(pem):
        return sm2_pem.load_private_key(pem, secret)
    try:
        return serialization.load_pem_private_key(pem, password=secret)
    except TypeError:
        if secret is None:
            raise PassphraseNeeded("the private key is encrypted: a passphrase is needed") from None
        raise PassphraseNotExpected(
            "the private key is not encrypted: give no passphrase") from None
    except ValueError:
        if secret is not None and b"ENCRYPTED" in pem:
            raise WrongPassphrase("wrong passphrase for the private key") from None
        raise KeyLoadError("not a PEM private key, or the key is damaged") from None
    except UnsupportedAlgorithm:
        raise KeyLoadError("the private key uses an unsupported algorithm") from None


def load_private_key(pem: bytes, passphrase: str | bytes | None = None) -> PrivateKey:
    """The private key in ``pem``; :class:`KeyLoadError` names what went wrong."""
    return _supported_private(_load_pem_private_key(pem, passphrase))


def load_handle_signing_key(
    pem: bytes, passphrase: str | bytes | None = None
) -> HandlePrivateKey | None:
    """The RSA or DSA key in ``pem`` that Handle messages are signed with; None when
    ``pem`` holds a good key of another type (:data:`protocol.key_types.HANDLE_KEY_TYPES`);
    :class:`KeyLoadError` when it holds no usable key."""
    key = _load_pem_private_key(pem, passphrase)
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise KeyLoadError(f"RSA key of {key.key_size} bits is too small")
    return handle_signing_key(key)


def public_key_to_pem(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of ``key`` (what ``keys gen`` writes next to the private key)."""
    if isinstance(key, Sm2PublicKey):
        return sm2_pem.public_key_to_pem(key)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(pem: bytes) -> PublicKey:
    """The supported public key in a ``PUBLIC KEY`` PEM; :class:`TrustError` says why not."""
    if sm2_pem.is_sm2_public_pem(pem):
        return sm2_pem.load_public_key(pem)
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise TrustError("not a PEM public key, or the key is damaged") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise TrustError(f"unsupported public key type {type(key).__name__}")
    key_type_of(key)  # refuses curves other than P-256
    return key


def _supported_private(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise KeyLoadError(f"RSA key of {key.key_size} bits is too small")
    if isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | Sm2PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise KeyLoadError(
        f"unsupported private key type {type(key).__name__}; use one of {', '.join(JWS_KEY_TYPES)}"
    )


def key_type_of(key: PrivateKey | PublicKey) -> str:
    """The :mod:`protocol.key_types` name of a supported private or public key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return P256
        raise TrustError(f"unsupported curve {key.curve.name}; only P-256 is supported")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSA
    if isinstance(key, Sm2PrivateKey | Sm2PublicKey):
        return SM2
    raise TrustError(f"unsupported key type {type(key).__name__}")


def same_key(a: PublicKey, b: PublicKey) -> bool:
    """Whether two public keys are the same key."""
    return public_key_to_jwk(a) == public_key_to_jwk(b)


# --- JWK ------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses everywhere."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; rejects padding and any character outside base64url."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise TrustError("bad base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint_bytes(value: int, size: int = 0) -> bytes:
    return value.to_bytes(max(size, (value.bit_length() + 7) // 8, 1), "big")


def public_key_to_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK of ``key`` (only the members RFC 7638 requires)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_type_of(key)  # refuses curves other than P-256
        ecn = key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(_uint_bytes(ecn.x, 32)),
            "y": b64url(_uint_bytes(ecn.y, 32)),
        }
    if isinstance(key, Sm2PublicKey):
        return {"kty": "EC", "crv": "SM2", "x": b64url(key.x), "y": b64url(key.y)}
    assert isinstance(key, rsa.RSAPublicKey)
    rn = key.public_numbers()
    return {"kty": "RSA", "n": b64url(_uint_bytes(rn.n)), "e": b64url(_uint_bytes(rn.e))}


def jwk_to_public_key(jwk: Any) -> PublicKey:
    """The public key of a JWK object; :class:`TrustError` if it is not one we support."""
    if not isinstance(jwk, dict):
        raise TrustError("a JWK must be a JSON object")
    try:
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if kty == "OKP" and crv == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        if kty == "EC" and crv == "P-256":
            x, y = (int.from_bytes(b64url_decode(jwk[k]), "big") for k in ("x", "y"))
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        if kty == "EC" and crv == "SM2":
            sx, sy = (b64url_decode(jwk[k]) for k in ("x", "y"))
            if len(sx) != SM2_SIZE or len(sy) != SM2_SIZE:
                raise TrustError(f"SM2 JWK coordinates must be {SM2_SIZE} octets each")
            return Sm2PublicKey(b"\x04" + sx + sy)
        if kty == "RSA":
            n, e = (int.from_bytes(b64url_decode(jwk[k]), "big") for k in ("n", "e"))
            key = rsa.RSAPublicNumbers(e, n).public_key()
            if key.key_size < MIN_RSA_BITS:
                raise TrustError(f"RSA key of {key.key_size} bits is too small")
            return key
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustError(f"bad JWK: {exc}") from None
    raise TrustError(f"unsupported JWK kty={kty!r} crv={crv!r}")


def jwk_thumbprint(key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of ``key`` (how revocation lists name keys)."""
    canonical = json.dumps(public_key_to_jwk(key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


# --- HS_PUBKEY --------------------------------------------------------------------------------


def public_key_to_hs_pubkey(key: PublicKey) -> bytes:
    """HS_PUBKEY value data for ``key``.

    RSA uses CNRI's ``RSA_PUB_KEY`` layout via :mod:`protocol.public_key`.  CNRI
    9.x has no elliptic-curve layout, so Ed25519 and P-256 keys use the same
    shape with their own labels (``ED25519_PUB_KEY``: the 32 raw key octets;
    ``EC_PUB_KEY``: curve name then the uncompressed SEC1 point;
    ``SM2_PUB_KEY``: the uncompressed point ``04 || x || y``, the curve being
    implied by the label).  Handle 9
    clients reject those two as an unknown key format, which is what they do
    for any key they cannot use.
    """
    key_type_of(key)  # refuses curves other than P-256
    if isinstance(key, rsa.RSAPublicKey):
        return encode_public_key(key)
    w = Writer()
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        w.byte_array(_HS_PUBKEY_ED25519).i16(0).byte_array(raw)
    elif isinstance(key, Sm2PublicKey):
        w.byte_array(_HS_PUBKEY_SM2).i16(0).byte_array(key.encoded_point())
    else:
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        w.byte_array(_HS_PUBKEY_EC).i16(0).byte_array(_P256_NAME).byte_array(point)
    return w.getvalue()


def hs_pubkey_to_public_key(data: bytes) -> PublicKey:
    """The public key in HS_PUBKEY value data; :class:`TrustError` if unusable for signing."""
    try:
        r = Reader(data)
        label = r.byte_array()
        if label == _HS_PUBKEY_ED25519:
            r.i16()
            key: object = ed25519.Ed25519PublicKey.from_public_bytes(r.byte_array())
        elif label == _HS_PUBKEY_EC:
            r.i16()
            if r.byte_array() != _P256_NAME:
                raise TrustError("EC_PUB_KEY on a curve other than P-256")
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), r.byte_array())
        elif label == _HS_PUBKEY_SM2:
            r.i16()
            key = Sm2PublicKey(r.byte_array())
        else:
            key = decode_public_key(data)
    except (ProtocolError, ValueError) as exc:
        raise TrustError(f"bad HS_PUBKEY data: {exc}") from None
    if isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                  | Sm2PublicKey):
        return key
    raise TrustError(f"HS_PUBKEY holds a {type(key).__name__}, which cannot sign JWS")
