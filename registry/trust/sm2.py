"""SM2 signing keys (GB/T 32918.2-2016 signatures with SM3, GB/T 32905-2016).

Why the ``gmalg`` package: ``cryptography`` (OpenSSL underneath) has SM3
(``hashes.SM3``) but no SM2 curve or SM2 signature API, so SM2 needs another
library.  ``gmalg`` (MIT, pure Python, typed, released 2026) implements the
SM2 signature exactly as GB/T 32918.2 with an explicit user ID, draws the
per-signature ``k`` from :mod:`secrets`, and checks ``r``/``s`` ranges on
verification.  The older ``gmssl`` PyPI package (last release 2023) draws ``k``
from :mod:`random` unless the caller supplies it, and the C bindings of GmSSL
need a shared library this project does not install.  Being pure Python,
``gmalg`` is not constant-time: fine for verification and for signing on a
node the operator controls, not for keys exposed to timing attackers.

What this module adds on top: key objects shaped like ``cryptography``'s
(``public_key()``, ``sign``/``verify`` raising ``InvalidSignature``), the
signature as the 64-octet ``r || s`` (the JWS form, as ES256), the default
user ID ``1234567812345678`` of GM/T 0009-2012, a public-key validity check
(``gmalg`` does not check points it verifies against), and the DER forms
OpenSSL 3 uses for SM2 keys: SubjectPublicKeyInfo and unencrypted PKCS#8 with
``id-ecPublicKey`` and the curve OID ``1.2.156.10197.1.301``.  These DER forms
are fixed-length, so they are fixed templates here, not a general ASN.1 codec.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidSignature
from gmalg import SM2

from registry.trust.errors import TrustError

#: GM/T 0009-2012 default signer ID, used when the parties agree on no other
DEFAULT_USER_ID = b"1234567812345678"
#: the SM2 recommended curve y^2 = x^3 + ax + b over F_p (GB/T 32918.5), a = p - 3
PRIME = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
CURVE_B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
#: order of the base point (the cofactor is 1)
ORDER = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
SIZE = 32
POINT_SIZE = 1 + 2 * SIZE

# SEQUENCE { SEQUENCE { id-ecPublicKey, sm2p256v1 }, BIT STRING 00 <point> }
_ALGORITHM_ID = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_SPKI_PREFIX = bytes.fromhex("3059") + _ALGORITHM_ID + bytes.fromhex("034200")
# PrivateKeyInfo { 0, algorithm, OCTET STRING ECPrivateKey { 1, d, [1] public point } }
_PKCS8_PREFIX = (
    bytes.fromhex("308187020100") + _ALGORITHM_ID + bytes.fromhex("046d306b0201010420")
)
_PKCS8_MIDDLE = bytes.fromhex("a144034200")


def _on_curve(x: int, y: int) -> bool:
    """GB/T 32918.1 public key validation (6.2.2 a-c).  Step d, ``n P = O``, holds for
    every curve point as the cofactor is 1; ``gmalg.SM2.verify_pk`` computes it anyway,
    a pure-Python scalar multiplication (about 0.1 s) per key loaded."""
    if not (0 <= x < PRIME and 0 <= y < PRIME):
        return False
    return (y * y - (x * x * x + (PRIME - 3) * x + CURVE_B)) % PRIME == 0


class Sm2PublicKey:
    """An SM2 public key: a validated point on the recommended curve."""

    __slots__ = ("_point",)

    def __init__(self, point: bytes) -> None:
        """``point`` is the uncompressed SEC1 encoding ``04 || x || y`` (65 octets)."""
        if len(point) != POINT_SIZE or point[0] != 4:
            raise TrustError("an SM2 public key must be a 65-octet uncompressed point (04||x||y)")
        x, y = (int.from_bytes(c, "big") for c in (point[1 : 1 + SIZE], point[1 + SIZE :]))
        if not _on_curve(x, y):
            raise TrustError("the SM2 public key is not a point on the SM2 curve")
        self._point = bytes(point)

    def encoded_point(self) -> bytes:
        """``04 || x || y``: the HS_PUBKEY and X9.62 form."""
        return self._point

    @property
    def x(self) -> bytes:
        """The 32-octet x coordinate."""
        return self._point[1 : 1 + SIZE]

    @property
    def y(self) -> bytes:
        """The 32-octet y coordinate."""
        return self._point[1 + SIZE :]

    def spki_der(self) -> bytes:
        """DER SubjectPublicKeyInfo (what OpenSSL 3 writes for an SM2 public key)."""
        return _SPKI_PREFIX + self._point

    def verify(self, signature: bytes, data: bytes, user_id: bytes = DEFAULT_USER_ID) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` (``r || s``) signs ``data``."""
        if len(signature) != 2 * SIZE:
            raise InvalidSignature(f"an SM2 signature has {2 * SIZE} octets, not {len(signature)}")
        r, s = signature[:SIZE], signature[SIZE:]
        if not SM2(uid=user_id, pk=self._point).verify(data, r, s):
            raise InvalidSignature("SM2 signature does not verify")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)


class Sm2PrivateKey:
    """An SM2 private key (the scalar ``d``, 1 <= d <= n - 2)."""

    __slots__ = ("_d", "_public")

    def __init__(self, d: bytes) -> None:
        value = int.from_bytes(d, "big")
        if len(d) != SIZE or not 1 <= value <= ORDER - 2:
            raise TrustError("an SM2 private key is a 32-octet scalar between 1 and n-2")
        self._d = bytes(d)
        self._public = Sm2PublicKey(SM2().generate_pk(self._d))

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A new random key (scalar from :mod:`secrets`)."""
        return cls((1 + secrets.randbelow(ORDER - 2)).to_bytes(SIZE, "big"))

    def public_key(self) -> Sm2PublicKey:
        """The public half."""
        return self._public

    def sign(self, data: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """The SM2-with-SM3 signature of ``data`` as ``r || s`` (64 octets)."""
        return self._sign(data, user_id, None)

    def _sign(self, data: bytes, user_id: bytes, k: int | None) -> bytes:
        """Sign with a fixed ``k`` when given: only for reproducing published test vectors."""
        rnd = None if k is None else (lambda _bits: k)
        r, s = SM2(self._d, user_id, self._public.encoded_point(), rnd_fn=rnd).sign(data)
        return r.rjust(SIZE, b"\0") + s.rjust(SIZE, b"\0")

    def pkcs8_der(self) -> bytes:
        """DER PKCS#8 PrivateKeyInfo, unencrypted (OpenSSL 3's layout for SM2)."""
        return _PKCS8_PREFIX + self._d + _PKCS8_MIDDLE + self._public.encoded_point()


def load_spki_der(der: bytes) -> Sm2PublicKey:
    """The SM2 public key in a DER SubjectPublicKeyInfo; :class:`TrustError` if it is none."""
    if len(der) != len(_SPKI_PREFIX) + POINT_SIZE or not der.startswith(_SPKI_PREFIX):
        raise TrustError("not an SM2 SubjectPublicKeyInfo")
    return Sm2PublicKey(der[len(_SPKI_PREFIX) :])


def load_pkcs8_der(der: bytes) -> Sm2PrivateKey:
    """The SM2 private key in an unencrypted DER PKCS#8; :class:`TrustError` if it is none."""
    start = len(_PKCS8_PREFIX)
    middle = start + SIZE
    if (
        len(der) != middle + len(_PKCS8_MIDDLE) + POINT_SIZE
        or not der.startswith(_PKCS8_PREFIX)
        or der[middle : middle + len(_PKCS8_MIDDLE)] != _PKCS8_MIDDLE
    ):
        raise TrustError("not an SM2 PKCS#8 private key in OpenSSL's layout")
    key = Sm2PrivateKey(der[start:middle])
    if key.public_key().encoded_point() != der[middle + len(_PKCS8_MIDDLE) :]:
        raise TrustError("the SM2 private key file's public point does not match its scalar")
    return key


def is_sm2_spki(der: bytes) -> bool:
    """Whether ``der`` is a SubjectPublicKeyInfo naming the SM2 curve."""
    return der.startswith(_SPKI_PREFIX)


def is_sm2_pkcs8(der: bytes) -> bool:
    """Whether ``der`` is a PKCS#8 PrivateKeyInfo naming the SM2 curve."""
    return der.startswith(_PKCS8_PREFIX)
