"""SM3 digests and SM2 signatures against published vectors and OpenSSL-made data.

Sources of the fixed data:

* SM3: GB/T 32905-2016 appendix A, examples 1 ("abc") and 2 ("abcd" * 16).
* SM2: the recommended-curve signature example of GM/T 0003.5-2012 (private key
  ``d``, random ``k``, message "message digest", the GM/T 0009 default ID
  ``1234567812345678``), the same data as OpenSSL's
  ``test/sm2_internal_test.c`` and the ``gmssl`` package's ``test_sm2.py``.
* The ``OPENSSL_*`` key and signature were made once with OpenSSL 3.0.19:
  ``openssl genpkey -algorithm SM2``, ``openssl pkey -pubout`` and
  ``openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:1234567812345678``
  over "message digest" (a DER signature, converted to ``r || s`` below).
"""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from protocol.values import HandleValue
from protocol.wire import Writer
from registry.trust import PrivateKey, TrustError, jwk_to_public_key, sign_record, verify_record
from registry.trust.digests import digest
from registry.trust.jws import parse, sign
from registry.trust.keys import (
    generate_key,
    hs_pubkey_to_public_key,
    key_type_of,
    load_private_key,
    load_public_key_pem,
    private_key_to_pem,
    public_key_to_hs_pubkey,
    public_key_to_jwk,
    public_key_to_pem,
)
from registry.trust.sm2 import Sm2PrivateKey, Sm2PublicKey
from tests.registry.trust.conftest import (
    ADMIN_INDEX,
    DAY,
    ENT8,
    NOW,
    RECORD,
    World,
    record_values,
)

SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]

GM_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
GM_POINT = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
GM_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
GM_MESSAGE = b"message digest"
GM_SIGNATURE = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)

OPENSSL_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgZ3Z8QYelLsl+ggwl
uovyQZmFhkakown6mQ1PkFccJsihRANCAAR3rH2K1PFAoPsE2CzQT0xj+9Qcjrrv
VfeYmWW2cwzDnaN0klHr0c9OGdwI/koYWkelwO1HB9KUdsDwZLGvuWzn
-----END PRIVATE KEY-----
"""
OPENSSL_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEd6x9itTxQKD7BNgs0E9MY/vUHI66
71X3mJlltnMMw52jdJJR69HPThncCP5KGFpHpcDtRwfSlHbA8GSxr7ls5w==
-----END PUBLIC KEY-----
"""
OPENSSL_DER_SIGNATURE = bytes.fromhex(
    "3045022100b814d2701d177ccc417a0c6e14e5fd9c3c99fd1e87c3e9b2b618f20ecb9558af"
    "022042749e62d18d309b73e8fb3b49b6d070edc8c9ef75ec7fa4dee7cd90ae9aca9a"
)


@pytest.mark.parametrize(("message", "expected"), SM3_VECTORS)
def test_sm3_vectors_of_gbt_32905(message: bytes, expected: str) -> None:
    assert digest(message, "SM3").hex() == expected
    assert digest(message, "sm3") == digest(message, "SM3")


def test_gm_example_key_and_signature() -> None:
    key = Sm2PrivateKey(GM_D)
    assert key.public_key().encoded_point() == GM_POINT
    assert key._sign(GM_MESSAGE, b"1234567812345678", GM_K) == GM_SIGNATURE
    Sm2PublicKey(GM_POINT).verify(GM_SIGNATURE, GM_MESSAGE)


@pytest.mark.parametrize(
    ("signature", "message", "user_id"),
    [
        (GM_SIGNATURE, b"message digesT", b"1234567812345678"),
        (GM_SIGNATURE[:-1] + bytes([GM_SIGNATURE[-1] ^ 1]), GM_MESSAGE, b"1234567812345678"),
        (GM_SIGNATURE[32:] + GM_SIGNATURE[:32], GM_MESSAGE, b"1234567812345678"),
        (GM_SIGNATURE, GM_MESSAGE, b"ALICE123@YAHOO.COM"),
        (GM_SIGNATURE[:63], GM_MESSAGE, b"1234567812345678"),
        (bytes(64), GM_MESSAGE, b"1234567812345678"),
    ],
)
def test_tampered_message_signature_or_user_id_fails(
    signature: bytes, message: bytes, user_id: bytes
) -> None:
    with pytest.raises(InvalidSignature):
        Sm2PublicKey(GM_POINT).verify(signature, message, user_id)


def test_signatures_are_random_and_verify_only_under_their_key() -> None:
    key = Sm2PrivateKey(GM_D)
    first, second = key.sign(GM_MESSAGE), key.sign(GM_MESSAGE)
    assert first != second and len(first) == 64
    key.public_key().verify(first, GM_MESSAGE)
    key.public_key().verify(second, GM_MESSAGE)
    with pytest.raises(InvalidSignature):
        Sm2PrivateKey.generate().public_key().verify(first, GM_MESSAGE)


def test_openssl_key_files_and_signature_are_read() -> None:
    key = load_private_key(OPENSSL_PRIVATE)
    assert key_type_of(key) == "sm2"
    public = load_public_key_pem(OPENSSL_PUBLIC)
    assert public == key.public_key()
    assert private_key_to_pem(key) == OPENSSL_PRIVATE  # the same bytes OpenSSL wrote
    assert public_key_to_pem(public) == OPENSSL_PUBLIC
    r, s = decode_dss_signature(OPENSSL_DER_SIGNATURE)
    assert isinstance(public, Sm2PublicKey)
    public.verify(r.to_bytes(32, "big") + s.to_bytes(32, "big"), GM_MESSAGE)


def test_jwk_and_hs_pubkey_forms() -> None:
    public = Sm2PublicKey(GM_POINT)
    jwk = public_key_to_jwk(public)
    assert jwk == {
        "kty": "EC",
        "crv": "SM2",
        "x": "CfnfMR5UIaFQ3X0WHkvFxnIXn60YM_wHa7CP81bzUCA",
        "y": "zOpJDOJndaUtxupxjMGqYArtBfvzXghKZjL2By2prRM",
    }
    assert jwk_to_public_key(jwk) == public
    data = public_key_to_hs_pubkey(public)
    assert data == Writer().byte_array(b"SM2_PUB_KEY").i16(0).byte_array(GM_POINT).getvalue()
    assert hs_pubkey_to_public_key(data) == public


def test_points_off_the_curve_are_refused() -> None:
    off = GM_POINT[:-1] + bytes([GM_POINT[-1] ^ 1])
    with pytest.raises(TrustError, match="not a point on the SM2 curve"):
        Sm2PublicKey(off)
    with pytest.raises(TrustError, match="not a point on the SM2 curve"):
        Sm2PublicKey(b"\x04" + b"\xff" * 64)  # coordinates outside the field
    with pytest.raises(TrustError, match="not a point on the SM2 curve"):
        hs_pubkey_to_public_key(
            Writer().byte_array(b"SM2_PUB_KEY").i16(0).byte_array(off).getvalue()
        )
    jwk = public_key_to_jwk(Sm2PublicKey(GM_POINT))
    with pytest.raises(TrustError, match="32 octets"):
        jwk_to_public_key({**jwk, "x": jwk["x"][:-3]})
    with pytest.raises(TrustError, match="between 1 and n-2"):
        Sm2PrivateKey(bytes(32))


def test_jws_sm2sm3_alg_and_tampering() -> None:
    key = generate_key("sm2")
    jws = sign(b'{"sub":"x"}', key)
    assert jws.alg == "SM2SM3" and len(jws.signature) == 64
    assert parse(jws.compact()).verifies(key.public_key())
    payload = jws.compact().split(".")
    payload[1] = payload[1][:-1] + ("A" if payload[1][-1] != "A" else "B")
    assert not parse(".".join(payload)).verifies(key.public_key())
    es256 = parse(jws.compact().replace(jws.protected, "eyJhbGciOiJFUzI1NiJ9", 1))
    assert not es256.verifies(key.public_key())


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    """Every party of the trust world holds an SM2 key (overrides the mixed conftest keys)."""
    return {party: generate_key("sm2") for party in ("root", "node", "ent8", "ent9")}


async def test_all_sm2_chain_signs_with_sm3_digests_and_verifies(world: World) -> None:
    values = record_values()
    signature = sign_record(
        RECORD, values, ENT8, ADMIN_INDEX, world.ent8_key, NOW - DAY, NOW + DAY
    )
    claims = json.loads(parse(signature.data).payload)
    assert claims["digests"]["alg"] == "SM3"
    anchor = world.root_key.public_key()
    report = await verify_record(
        RECORD, [*values, signature], fetch=world.fetch, trust_anchor=anchor, now=NOW
    )
    assert report.status == "valid", report
    tampered = [HandleValue(1, "URL", b"https://evil.test/", timestamp=NOW), *values[1:]]
    bad = await verify_record(
        RECORD, [*tampered, signature], fetch=world.fetch, trust_anchor=anchor, now=NOW
    )
    assert bad.status == "invalid" and bad.failed_values == (1,)
