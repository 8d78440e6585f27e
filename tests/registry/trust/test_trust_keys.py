"""Keys: generation, encrypted PEM, JWK, RFC 7638 thumbprints, HS_PUBKEY data."""

from __future__ import annotations

import warnings

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.utils import CryptographyDeprecationWarning

from protocol.key_types import HANDLE_KEY_TYPES, HS_PUBKEY_LABELS, JWS_KEY_TYPES
from protocol.public_key import decode_public_key, encode_public_key
from registry.trust import (
    KeyLoadError,
    PrivateKey,
    TrustError,
    generate_key,
    hs_pubkey_to_public_key,
    jwk_to_public_key,
    load_private_key,
    private_key_to_pem,
    public_key_to_hs_pubkey,
    public_key_to_jwk,
)
from registry.trust.keys import jwk_thumbprint, key_type_of, load_handle_signing_key, same_key


def test_encrypted_pem_round_trip(key: PrivateKey) -> None:
    pem = private_key_to_pem(key, "correct horse")
    # PKCS#8 for cryptography's key types, the documented idnode form for SM2
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") or pem.startswith(
        b"-----BEGIN IDNODE SM2 ENCRYPTED PRIVATE KEY-----"
    )
    loaded = load_private_key(pem, "correct horse")
    assert same_key(loaded.public_key(), key.public_key())


def test_wrong_passphrase_is_a_clear_error(key: PrivateKey) -> None:
    pem = private_key_to_pem(key, "correct horse")
    with pytest.raises(KeyLoadError, match="wrong passphrase"):
        load_private_key(pem, "battery staple")
    with pytest.raises(KeyLoadError, match="passphrase is needed"):
        load_private_key(pem)


def test_unencrypted_pem(key: PrivateKey) -> None:
    pem = private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert same_key(load_private_key(pem).public_key(), key.public_key())
    with pytest.raises(KeyLoadError, match="not encrypted"):
        load_private_key(pem, "surplus")


def test_error_messages_never_contain_key_material(key: PrivateKey) -> None:
    pem = private_key_to_pem(key)
    damaged = pem[:60] + b"!!" + pem[62:]
    with pytest.raises(KeyLoadError) as info:
        load_private_key(damaged)
    assert pem[30:60].decode() not in str(info.value)


def test_jwk_round_trip(key: PrivateKey) -> None:
    jwk = public_key_to_jwk(key.public_key())
    assert jwk["kty"] in {"OKP", "EC", "RSA"}
    assert same_key(jwk_to_public_key(jwk), key.public_key())


def test_hs_pubkey_round_trip(key: PrivateKey) -> None:
    data = public_key_to_hs_pubkey(key.public_key())
    assert same_key(hs_pubkey_to_public_key(data), key.public_key())


def test_rsa_hs_pubkey_is_the_cnri_layout() -> None:
    key = generate_key("rsa", rsa_bits=2048).public_key()
    data = public_key_to_hs_pubkey(key)
    assert data[4:15] == b"RSA_PUB_KEY"
    assert decode_public_key(data).public_numbers() == key.public_numbers()


def test_rfc7638_thumbprint_example() -> None:
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vM"
        "QFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    key = jwk_to_public_key({"kty": "RSA", "n": n, "e": "AQAB"})
    assert jwk_thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_weak_or_unknown_keys_are_refused() -> None:
    with pytest.raises(TrustError, match="at least 2048"):
        generate_key("rsa", rsa_bits=1024)
    with pytest.raises(TrustError, match="unknown key type"):
        generate_key("dsa")
    with pytest.raises(TrustError, match="unsupported JWK"):
        jwk_to_public_key({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})
    small = rsa.generate_private_key(65537, 1024)  # noqa: S505 - must be refused
    with pytest.raises(KeyLoadError, match="too small"):
        load_private_key(private_key_to_pem(small))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(KeyLoadError, match="unsupported private key type"):
        load_private_key(private_key_to_pem(p384))


def test_handle_signing_key_is_rsa_or_dsa(key: PrivateKey) -> None:
    """Server and administrator keys: the Handle protocol signs with RSA or DSA only
    (protocol.key_types.HANDLE_KEY_TYPES); another good key is None, not an error."""
    loaded = load_handle_signing_key(private_key_to_pem(key))
    if key_type_of(key) in HANDLE_KEY_TYPES:
        assert loaded is not None and same_key(loaded.public_key(), key.public_key())
    else:
        assert loaded is None


def test_handle_signing_key_reads_dsa() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        dsa_key = dsa.generate_private_key(2048)
    pem = dsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    loaded = load_handle_signing_key(pem)
    assert loaded is not None
    assert decode_public_key(encode_public_key(loaded.public_key())) == loaded.public_key()
    with pytest.raises(KeyLoadError, match="damaged"):
        load_handle_signing_key(b"not a key")


def test_key_type_names_come_from_one_table(key: PrivateKey) -> None:
    name = key_type_of(key)
    assert name in JWS_KEY_TYPES
    data = public_key_to_hs_pubkey(key.public_key())
    assert data[4:4 + len(HS_PUBKEY_LABELS[name])] == HS_PUBKEY_LABELS[name]
