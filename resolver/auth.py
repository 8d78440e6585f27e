"""Challenge-answer cryptography of Handle authentication (CNRI hdllib compatible).

A server challenges an administrative request with a random nonce and the
digest of the request; the client proves its identity over ``nonce +
request_digest``:

* HS_SECKEY: a keyed digest (``SecretKeyAuthenticationInfo``, ``Util.doMac``):
  MD5/SHA-1/SHA-256 of ``key + data + key``, HMAC-SHA1, HMAC-SHA256 or
  PBKDF2-HMAC-SHA1 (the answer then carries salt, iterations and key length).
  The answer is one algorithm byte followed by the MAC, except for protocol
  versions before 2.1 (bare MD5).
* HS_PUBKEY: a signature (``PublicKeyAuthenticationInfo``): the answer is a
  length-prefixed hash algorithm id (``SHA1``, ``SHA-256``, ``MD5``) and a
  length-prefixed signature (DER for DSA, PKCS#1 v1.5 for RSA).

Pure functions, no I/O.  Nothing here logs, and errors never carry key bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa

from protocol.constants import (
    HASH_CODE_HMAC_SHA1,
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
)
from protocol.errors import ProtocolError
from protocol.public_key import PublicKey
from protocol.wire import Reader, Writer

PrivateKey = dsa.DSAPrivateKey | rsa.RSAPrivateKey

#: bounds on the PBKDF2 parameters a client may make the server compute
MAX_PBKDF2_ITERATIONS: Final = 200_000
MAX_PBKDF2_KEY_BITS: Final = 1024
PBKDF2_ITERATIONS: Final = 10_000
PBKDF2_KEY_BITS: Final = 160

_DIGESTS: Final = {
    HASH_CODE_MD5_OLD_FORMAT: "md5",
    HASH_CODE_MD5: "md5",
    HASH_CODE_SHA1: "sha1",
    HASH_CODE_SHA256: "sha256",
}
_HASH_IDS: Final = {
    b"SHA1": "sha1",
    b"SHA-1": "sha1",
    b"SHA-256": "sha256",
    b"SHA256": "sha256",
    b"MD5": "md5",
    bytes([HASH_CODE_SHA1]): "sha1",
    bytes([HASH_CODE_SHA256]): "sha256",
    bytes([HASH_CODE_MD5]): "md5",
}
_HASH_ID_OF: Final = {"sha1": b"SHA1", "sha256": b"SHA-256", "md5": b"MD5"}
_HASH_OBJECTS: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "md5": hashes.MD5,
}


def new_nonce() -> bytes:
    """A fresh 16-byte challenge nonce (``ChallengeResponse.generateNonce``)."""
    return os.urandom(16)


def digest(hash_code: int, *parts: bytes) -> bytes:
    """``Util.doDigest`` for a one-byte hash code (MD5, SHA-1, SHA-256)."""
    name = _DIGESTS.get(hash_code)
    if name is None:
        raise ProtocolError(f"unknown digest algorithm {hash_code}")
    h = hashlib.new(name)
    for p in parts:
        h.update(p)
    return h.digest()


def _pbkdf2_password(key: bytes) -> bytes:
    # Java widens each byte to a char and PBEKeySpec encodes the chars as UTF-8.
    return key.decode("latin-1").encode("utf-8")


def _pbkdf2_mac(data: bytes, key: bytes, salt: bytes, iterations: int, key_bits: int) -> bytes:
    derived = hashlib.pbkdf2_hmac("sha1", _pbkdf2_password(key), salt, iterations, key_bits // 8)
    mac = hmac.new(derived, data, "sha1").digest()
    return Writer().byte_array(salt).i32(iterations).i32(key_bits).byte_array(mac).getvalue()


def _pbkdf2_params(encoded: bytes) -> tuple[bytes, int, int]:
    r = Reader(encoded)
    salt = r.byte_array(1024)
    iterations = r.i32()
    key_bits = r.i32()
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise ProtocolError("PBKDF2 iteration count out of bounds")
    if not 8 <= key_bits <= MAX_PBKDF2_KEY_BITS or key_bits % 8:
        raise ProtocolError("PBKDF2 key length out of bounds")
    return salt, iterations, key_bits


def secret_key_mac(alg: int, key: bytes, data: bytes, params: bytes | None = None) -> bytes:
    """``Util.doMac``: the keyed digest of ``data``.

    For PBKDF2 ``params`` is an earlier result whose salt, iterations and key
    length are reused (verification); without it fresh ones are chosen.
    """
    if alg == HASH_CODE_PBKDF2_HMAC_SHA1:
        if params is None:
            return _pbkdf2_mac(data, key, os.urandom(16), PBKDF2_ITERATIONS, PBKDF2_KEY_BITS)
        return _pbkdf2_mac(data, key, *_pbkdf2_params(params))
    if alg == HASH_CODE_HMAC_SHA256:
        return hmac.new(key, data, "sha256").digest()
    if alg == HASH_CODE_HMAC_SHA1:
        return hmac.new(key, data, "sha1").digest()
    return digest(alg, key, data, key)


def answer_with_secret_key(
    key: bytes, nonce: bytes, request_digest: bytes, alg: int = HASH_CODE_PBKDF2_HMAC_SHA1
) -> bytes:
    """The signed response of a HS_SECKEY answer: algorithm byte + MAC."""
    return bytes([alg]) + secret_key_mac(alg, key, nonce + request_digest)


def verify_secret_key_answer(
    key: bytes, nonce: bytes, request_digest: bytes, answer: bytes, *, old_format: bool = False
) -> bool:
    """Whether ``answer`` proves knowledge of ``key`` (``HandleServer.verifyChallenge``)."""
    if old_format:
        alg, mac = HASH_CODE_MD5, answer
    elif not answer:
        return False
    else:
        alg, mac = answer[0], answer[1:]
    try:
        expected = secret_key_mac(alg, key, nonce + request_digest, mac)
    except ProtocolError:
        return False
    return hmac.compare_digest(expected, mac)


def hash_name_for(hash_id: bytes) -> str:
    """``sha1``, ``sha256`` or ``md5`` for a Handle hash algorithm id."""
    name = _HASH_IDS.get(hash_id)
    if name is None:
        raise ProtocolError("unknown signature hash algorithm")
    return name


def sign(private_key: PrivateKey, data: bytes, hash_name: str = "sha256") -> bytes:
    """A raw signature of ``data`` (``SHA256withRSA``, ``SHA1withDSA``...)."""
    algo = _HASH_OBJECTS[hash_name]()
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), algo)
    return private_key.sign(data, algo)


def verify(public_key: PublicKey, data: bytes, signature: bytes, hash_name: str) -> bool:
    """Whether ``signature`` is ``public_key``'s signature of ``data``."""
    algo = _HASH_OBJECTS[hash_name]()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algo)
        elif isinstance(public_key, dsa.DSAPublicKey):
            public_key.verify(signature, data, algo)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def default_hash_for(private_key: PrivateKey, major: int, minor: int) -> str:
    """``Util.getDefaultSigId``: SHA-256 from 2.7 on, but SHA-1 for DSA before 2.11."""
    if (major, minor) < (2, 7):
        return "sha1"
    if isinstance(private_key, dsa.DSAPrivateKey) and (major, minor) < (2, 11):
        return "sha1"
    return "sha256"


def encode_signed_answer(hash_name: str, signature: bytes) -> bytes:
    """The HS_PUBKEY signed response: hash algorithm id and signature, each length-prefixed."""
    return Writer().byte_array(_HASH_ID_OF[hash_name]).byte_array(signature).getvalue()


def decode_signed_answer(answer: bytes) -> tuple[str, bytes]:
    """``(hash name, signature)`` of a HS_PUBKEY signed response."""
    r = Reader(answer)
    hash_id = r.byte_array(64)
    signature = r.byte_array(16384)
    return hash_name_for(hash_id), signature


def answer_with_private_key(
    private_key: PrivateKey, nonce: bytes, request_digest: bytes, hash_name: str = "sha256"
) -> bytes:
    """The signed response of a HS_PUBKEY answer."""
    return encode_signed_answer(hash_name, sign(private_key, nonce + request_digest, hash_name))


def verify_public_key_answer(
    public_key: PublicKey, nonce: bytes, request_digest: bytes, answer: bytes
) -> bool:
    """Whether ``answer`` is a signature of the challenge by ``public_key``'s owner."""
    try:
        hash_name, signature = decode_signed_answer(answer)
    except ProtocolError:
        return False
    return verify(public_key, nonce + request_digest, signature, hash_name)
