"""Encryption of messages inside a Handle session (CNRI ``SessionInfo.encryptBuffer`` /
``decryptBuffer`` with ``GenericProvider.getCipher``).

A CNRI client in a session encrypts a request whose values are not publicly
readable (``CreateHandleRequest.shouldEncrypt`` and the like) and sets the
envelope's encrypted flag.  idnode's sessions are AES ones (the DH setup
answers ``ENCRYPT_ALG_AES``): the cipher is AES with the first 16 octets of the
session key, CBC with PKCS#5 padding and the 16-octet IV in front of the
ciphertext: the form of sessions set up at protocol 2.4 or later, the only
ones idnode opens (CNRI's ECB form of older sessions is never needed).
The ``cryptography`` package does the AES.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocol.constants import RC_SESSION_FAILED
from protocol.errors import ProtocolError

_BLOCK = 16


def _cipher(key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key[:_BLOCK]), modes.CBC(iv))


def encrypt(key: bytes, data: bytes) -> bytes:
    """``encryptBuffer``: a fresh IV, then the ciphertext."""
    iv = os.urandom(_BLOCK)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = _cipher(key, iv).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    """``decryptBuffer``; ProtocolError (RC_SESSION_FAILED) for data that does not decrypt."""
    iv, data = data[:_BLOCK], data[_BLOCK:]
    if len(iv) < _BLOCK or not data or len(data) % _BLOCK:
        raise ProtocolError("encrypted message is not whole AES blocks", RC_SESSION_FAILED)
    decryptor = _cipher(key, iv).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise ProtocolError("encrypted message does not decrypt with the session key",
                            RC_SESSION_FAILED) from None
