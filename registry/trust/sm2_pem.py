"""SM2 private and public key files (PEM), plain and passphrase-encrypted.

``cryptography`` cannot read or write SM2 keys, so this module does the PEM
framing around the DER of :mod:`registry.trust.sm2`:

* unencrypted private key: ``-----BEGIN PRIVATE KEY-----``, PKCS#8 exactly as
  ``openssl genpkey -algorithm SM2`` writes it (OpenSSL 3 reads these files);
* public key: ``-----BEGIN PUBLIC KEY-----``, SubjectPublicKeyInfo as OpenSSL;
* encrypted private key: ``-----BEGIN IDNODE SM2 ENCRYPTED PRIVATE KEY-----``,
  an idnode form (OpenSSL does not read it; decrypt with idnode, or convert
  with ``openssl`` after ``idnode`` writes it unencrypted).  Body: a 16-octet
  salt, a 12-octet nonce, then AES-256-GCM of the PKCS#8 DER under the key
  scrypt(passphrase, salt, n=2**15, r=8, p=1) derives, the label as associated
  data.  Standard encrypted PKCS#8 (PBES2) would need a hand-written ASN.1
  encoder; scrypt and AES-GCM from ``cryptography`` give the same protection
  with no parser of our own.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from registry.trust.errors import (
    KeyLoadError,
    PassphraseNeeded,
    PassphraseNotExpected,
    TrustError,
    WrongPassphrase,
)
from registry.trust.sm2 import (
    Sm2PrivateKey,
    Sm2PublicKey,
    is_sm2_pkcs8,
    is_sm2_spki,
    load_pkcs8_der,
    load_spki_der,
)

PLAIN_LABEL = "PRIVATE KEY"
ENCRYPTED_LABEL = "IDNODE SM2 ENCRYPTED PRIVATE KEY"
PUBLIC_LABEL = "PUBLIC KEY"
_SALT, _NONCE = 16, 12
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


def pem(label: str, der: bytes) -> bytes:
    """``der`` framed as PEM with ``label`` (64-character lines)."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def unpem(data: bytes) -> tuple[str, bytes]:
    """The label and DER of the first PEM block in ``data``; :class:`TrustError` if none."""
    text = data.decode("ascii", "replace")
    start = text.find("-----BEGIN ")
    head_end = text.find("-----", start + 11)
    if start < 0 or head_end < 0:
        raise TrustError("not a PEM file")
    label = text[start + 11 : head_end]
    end = text.find(f"-----END {label}-----", head_end)
    if end < 0:
        raise TrustError(f"PEM block {label!r} has no END line")
    try:
        return label, base64.b64decode("".join(text[head_end + 5 : end].split()), validate=True)
    except binascii.Error:
        raise TrustError(f"PEM block {label!r} is not base64") from None


def is_sm2_private_pem(data: bytes) -> bool:
    """Whether ``data`` is an SM2 private key file of either form."""
    try:
        label, der = unpem(data)
    except TrustError:
        return False
    return label == ENCRYPTED_LABEL or (label == PLAIN_LABEL and is_sm2_pkcs8(der))


def _key_encryption_key(secret: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(secret)


def private_key_to_pem(key: Sm2PrivateKey, secret: bytes | None) -> bytes:
    """The key file of ``key``: PKCS#8 PEM, or the encrypted form when ``secret`` is given."""
    der = key.pkcs8_der()
    if not secret:
        return pem(PLAIN_LABEL, der)
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    sealed = AESGCM(_key_encryption_key(secret, salt)).encrypt(
        nonce, der, ENCRYPTED_LABEL.encode("ascii")
    )
    return pem(ENCRYPTED_LABEL, salt + nonce + sealed)


def load_private_key(data: bytes, secret: bytes | None) -> Sm2PrivateKey:
    """The SM2 key in a key file of either form; :class:`KeyLoadError` says what went wrong."""
    try:
        label, der = unpem(data)
        if label == PLAIN_LABEL:
            if secret:
                raise PassphraseNotExpected("the private key is not encrypted: give no passphrase")
            return load_pkcs8_der(der)
        if not secret:
            raise PassphraseNeeded("the private key is encrypted: a passphrase is needed")
        salt, nonce, sealed = der[:_SALT], der[_SALT : _SALT + _NONCE], der[_SALT + _NONCE :]
        try:
            plain = AESGCM(_key_encryption_key(secret, salt)).decrypt(
                nonce, sealed, ENCRYPTED_LABEL.encode("ascii")
            )
        except (InvalidTag, ValueError):
            raise WrongPassphrase("wrong passphrase for the private key") from None
        return load_pkcs8_der(plain)
    except KeyLoadError:
        raise
    except TrustError as exc:
        raise KeyLoadError(f"bad SM2 private key file: {exc}") from None


def public_key_to_pem(key: Sm2PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of ``key`` (as ``openssl pkey -pubout``)."""
    return pem(PUBLIC_LABEL, key.spki_der())


def is_sm2_public_pem(data: bytes) -> bool:
    """Whether ``data`` is a ``PUBLIC KEY`` PEM of an SM2 key."""
    try:
        label, der = unpem(data)
    except TrustError:
        return False
    return label == PUBLIC_LABEL and is_sm2_spki(der)


def load_public_key(data: bytes) -> Sm2PublicKey:
    """The SM2 public key in a ``PUBLIC KEY`` PEM; :class:`TrustError` if it holds none."""
    label, der = unpem(data)
    if label != PUBLIC_LABEL:
        raise TrustError(f"expected a PUBLIC KEY PEM, not {label!r}")
    return load_spki_der(der)
