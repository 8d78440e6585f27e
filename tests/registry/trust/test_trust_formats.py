"""JWS and the HS_SIGNATURE / HS_CERT / HS_REVOCATION payloads in Handle 9's shape."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from protocol.value_codec import encode_value
from registry.trust import (
    JwsError,
    PrivateKey,
    generate_key,
    issue_cert,
    issue_revocation,
    prefix_permissions,
    sign_record,
)
from registry.trust.claims import HandleClaims, Permission, ValueRef, authorizes
from registry.trust.jws import parse, sign
from registry.trust.keys import b64url_decode, jwk_thumbprint, key_type_of, same_key
from tests.registry.trust.conftest import ENT8, NODE, NOW, RECORD, record_values


def test_jws_round_trip_in_both_serialisations(key: PrivateKey) -> None:
    jws = sign(b'{"sub":"x"}', key)
    for text in (jws.compact(), jws.to_json()):
        again = parse(text)
        assert again == jws and again.payload == b'{"sub":"x"}'
        assert again.verifies(key.public_key())
    assert not jws.verifies(generate_key("ed25519").public_key())


def test_jws_header_is_only_alg_as_in_handle_9(key: PrivateKey) -> None:
    header = json.loads(b64url_decode(sign(b"{}", key).protected))
    assert header == {
        "alg": {"ed25519": "EdDSA", "p256": "ES256", "rsa": "RS256", "sm2": "SM2SM3"}[
            key_type_of(key)
        ]
    }


def test_es256_signature_is_raw_r_and_s() -> None:
    assert len(sign(b"{}", generate_key("p256")).signature) == 64


def test_alg_must_match_the_key_type() -> None:
    ed = generate_key("ed25519")
    jws = sign(b"{}", ed)
    forged = parse(jws.compact().replace(jws.protected, "eyJhbGciOiJFUzI1NiJ9", 1))  # ES256
    assert not forged.verifies(ed.public_key())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a.b",
        "a.b.c.d",
        "{}",
        '{"payload":"e30","signatures":[]}',
        "e30.e30.AA",
        "bm9wZQ.e30.AA",
        "eyJhbGciOiJFZERTQSJ9.e30.A*A",
        "eyJhbGciOiJFZERTQSJ9=.e30.AA",
    ],
)
def test_malformed_jws_is_refused(text: str) -> None:
    with pytest.raises(JwsError):
        parse(text)


def test_hs_signature_payload_matches_handle_9() -> None:
    key = generate_key("ed25519")
    values = record_values()
    sig = sign_record(RECORD, values, ENT8, 300, key, NOW, NOW + 3600)
    assert (sig.type, sig.index) == ("HS_SIGNATURE", 400)
    claims = json.loads(parse(sig.data).payload)
    assert set(claims) == {"iss", "sub", "iat", "nbf", "exp", "digests"}
    assert claims["iss"] == "300:0.NA/88.118.8" and claims["sub"] == RECORD
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW, NOW + 3600)
    assert claims["digests"]["alg"] == "SHA-256"
    public = [v for v in values if v.public_read]
    assert claims["digests"]["digests"] == [
        {
            "index": v.index,
            "digest": base64.b64encode(hashlib.sha256(encode_value(v)[8:]).digest()).decode(),
        }
        for v in public
    ]


def test_hs_cert_payload_matches_handle_9() -> None:
    node, ent = generate_key("p256"), generate_key("ed25519")
    cert = issue_cert(
        NODE, 300, node, ENT8, 300, ent.public_key(), NOW, NOW + 10, prefix_permissions(ENT8)
    )
    assert cert.type == "HS_CERT"
    jws = parse(cert.data)
    assert jws.verifies(node.public_key())
    claims = HandleClaims.from_json(jws.payload)
    assert (claims.iss, claims.sub, claims.iat, claims.nbf, claims.exp) == (
        "300:0.NA/88.118",
        "300:0.NA/88.118.8",
        NOW,
        NOW,
        NOW + 10,
    )
    assert claims.public_key is not None and same_key(claims.public_key, ent.public_key())
    assert json.loads(jws.payload)["perms"] == [
        {"handle": ENT8, "perm": "thisHandle"},
        {"handle": ENT8, "perm": "handlesUnderThisPrefix"},
    ]


def test_revocation_lists_key_thumbprints() -> None:
    node, ent = generate_key("p256"), generate_key("ed25519")
    value = issue_revocation(NODE, 300, node, [ent.public_key()], NOW)
    claims = json.loads(parse(value.data).payload)
    assert value.type == "HS_REVOCATION"
    assert claims == {
        "iss": "300:0.NA/88.118",
        "sub": "300:0.NA/88.118",
        "iat": NOW,
        "revoked": [{"jkt": jwk_thumbprint(ent.public_key())}],
    }


def test_value_references_parse_like_handle_9() -> None:
    assert ValueRef.parse("300:0.NA/88.118") == ValueRef("0.NA/88.118", 300)
    assert ValueRef.parse("0.NA/88.118") == ValueRef("0.NA/88.118", 0)
    assert ValueRef.parse("x:88/y") == ValueRef("x:88/y", 0)
    assert str(ValueRef("88.118.8/A", 7)) == "7:88.118.8/A"


@pytest.mark.parametrize(
    ("perms", "handle", "expected"),
    [
        (prefix_permissions(ENT8), "88.118.8/TV-0001", True),
        (prefix_permissions(ENT8), "0.na/88.118.8", True),
        (prefix_permissions(ENT8), "88.118.9/TV-0001", False),
        (prefix_permissions(ENT8), "88.118.80/TV-0001", False),
        (prefix_permissions(ENT8), "88.118.8.1/X", False),
        (prefix_permissions(NODE, derived_prefixes=True), "88.118.8/TV-0001", True),
        (prefix_permissions(NODE, derived_prefixes=True), "0.NA/88.118.8", True),
        (prefix_permissions(NODE, derived_prefixes=True), "88.1180/X", False),
        (prefix_permissions(NODE), "88.118.8/TV-0001", False),
        ((Permission("", "everything"),), "anything/at-all", True),
        ((), "88.118.8/TV-0001", False),
    ],
)
def test_permissions_cover_handles_as_in_handle_9(
    perms: tuple[Permission, ...], handle: str, expected: bool
) -> None:
    assert authorizes(perms, handle) is expected
