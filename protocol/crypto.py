"""The hash, MAC and signature primitives CNRI uses, by their protocol names.

* ``mac(code, data, key)``: ``Util.doMac`` - HMAC-SHA1/HMAC-SHA256, or for the
  plain MD5/SHA-1/SHA-256 codes the "envelope" digest ``H(key + data + key)``.
* ``mac_code(name)``: the code for a hash-algorithm name as found in a
  credential (``"HMAC-SHA256"``, ``"SHA1"``, a single code octet ...).
* ``sign``/``verify``: ``SHA1withRSA``-style signatures with ``cryptography``
  keys (RSA PKCS#1 v1.5, DSA DER-encoded ``(r, s)`` - what Java produces).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from protocol.constants import (
    HASH_ALG_SHA1,
    HASH_ALG_SHA256,
    HASH_CODE_HMAC_SHA1,
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
)
from protocol.digests import digest
from protocol.dsa_keys import DSAPrivateKey, DSAPublicKey
from protocol.errors import ProtocolError
from protocol.key_types import HandlePrivateKey, HandlePublicKey
from protocol.versions import at_least

_NAMED_CODES = {
    b"SHA1": HASH_CODE_SHA1,
    b"SHA-1": HASH_CODE_SHA1,
    b"MD5": HASH_CODE_MD5,
    b"SHA-256": HASH_CODE_SHA256,
    b"SHA256": HASH_CODE_SHA256,
}
_PUNCT_FREE = {b"HMACSHA1": HASH_CODE_HMAC_SHA1, b"HMACSHA256": HASH_CODE_HMAC_SHA256}
#: the names session messages' MACs give (``HMAC-SHA256`` from 2.7), found without
#: squashing them letter by letter
_MAC_NAMES = {**_NAMED_CODES, b"HMAC-SHA256": HASH_CODE_HMAC_SHA256,
              b"HMAC-SHA1": HASH_CODE_HMAC_SHA1}


def mac_code(name: bytes) -> int:
    """HASH_CODE_* for a hash-algorithm id (``Util.doMac(byte[] digestType, ...)``)."""
    if len(name) == 1:
        return name[0]
    code = _MAC_NAMES.get(name)
    if code is not None:
        return code
    squashed = bytes(c for c in name.upper() if chr(c).isalnum())
    code = _PUNCT_FREE.get(squashed)
    if code is None:
        raise ProtocolError(f"invalid hash type: {name[:40]!r}")
    return code


def mac(code: int, data: bytes, key: bytes) -> bytes:
    """``Util.doMac`` for every code but PBKDF2 (see :mod:`protocol.auth`)."""
    if code == HASH_CODE_HMAC_SHA256:
        return hmac.new(key, data, hashlib.sha256).digest()
    if code == HASH_CODE_HMAC_SHA1:
        return hmac.new(key, data, hashlib.sha1).digest()
    if code in (HASH_CODE_SHA256, HASH_CODE_SHA1, HASH_CODE_MD5, HASH_CODE_MD5_OLD_FORMAT):
        return digest(code, key, data, key)
    raise ProtocolError(f"invalid hash type: {code}")


def _hash_for(alg: bytes) -> hashes.HashAlgorithm:
    code = alg[0] if len(alg) == 1 else _NAMED_CODES.get(alg)
    if code == HASH_CODE_SHA256:
        return hashes.SHA256()
    if code == HASH_CODE_SHA1:
        return hashes.SHA1()  # noqa: S303 - protocol-mandated for old peers
    if code == HASH_CODE_MD5:
        return hashes.MD5()  # noqa: S303 - protocol-mandated for old peers
    raise ProtocolError(f"unknown hash algorithm id {alg[:40]!r}")


def default_signature_hash(
    key: HandlePrivateKey | HandlePublicKey, major: int, minor: int
) -> bytes:
    """``Util.getDefaultSigId`` as a hash id: SHA-256 from 2.7 on, except DSA
    before 2.11 which stays on SHA-1; SHA-1 before 2.7."""
    if not at_least(major, minor, 2, 7):
        return HASH_ALG_SHA1
    is_dsa = isinstance(key, DSAPrivateKey | DSAPublicKey)
    if is_dsa and not at_least(major, minor, 2, 11):
        return HASH_ALG_SHA1
    return HASH_ALG_SHA256


def sign(key: HandlePrivateKey, hash_alg: bytes, *parts: bytes) -> bytes:
    """Sign the concatenation of ``parts`` (``SHA256withRSA`` etc.)."""
    data = b"".join(parts)
    algorithm = _hash_for(hash_alg)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(key, DSAPrivateKey):
        return key.sign(data, algorithm)
    raise ProtocolError(f"unsupported private key type {type(key).__name__}")


def verify(key: HandlePublicKey, hash_alg: bytes, signature: bytes, *parts: bytes) -> bool:
    """Check a signature made by :func:`sign` (or by CNRI); never raises for a bad one."""
    data = b"".join(parts)
    try:
        algorithm = _hash_for(hash_alg)
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, DSAPublicKey):
            key.verify(signature, data, algorithm)
        else:
            return False
    except (InvalidSignature, ProtocolError, ValueError):
        return False
    return True

