"""Challenge/response, request digests, credentials and public keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from protocol.auth import (
    challenge_digest,
    make_challenge,
    public_key_answer,
    secret_key_answer,
    secret_key_answer_code,
    verify_public_key_answer,
    verify_secret_key_answer,
)
from protocol.bodies import ChallengeResponse, ResolutionRequest, ResolutionResponse, ValuesRequest
from protocol.constants import (
    HASH_CODE_HMAC_SHA1,
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
    MSG_FLAG_CERT,
    MSG_FLAG_RRDG,
    OC_CREATE_HANDLE,
    OC_RESOLUTION,
    RC_AUTHENTICATION_NEEDED,
    RC_SUCCESS,
)
from protocol.credential import (
    decode_credential,
    mac_counter,
    sign_message,
    sign_message_mac,
    verify_message_mac,
    verify_message_signature,
)
from protocol.envelope import decode_envelope
from protocol.framing import decode_packet, encode_tcp
from protocol.message import Message, encode_header_body, make_response
from protocol.public_key import decode_public_key, encode_public_key

from .test_golden import ENVELOPE, RESOLUTION_REQUEST

NONCE = bytes(range(16))
DIGEST = hashlib.sha256(b"request").digest()
KEY = b"secret-key"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - fast tests


@pytest.fixture(scope="module")
def dsa_key() -> dsa.DSAPrivateKey:
    return dsa.generate_private_key(key_size=1024)  # noqa: S505 - fast tests


def decoded_request() -> Message:
    return decode_packet(ENVELOPE + RESOLUTION_REQUEST)


def test_response_takes_ids_flags_and_digest() -> None:
    req = decoded_request()
    req.flags |= MSG_FLAG_RRDG | MSG_FLAG_CERT
    req.encoded = None  # flags changed: digest over the re-encoded request
    resp = make_response(req, RC_SUCCESS, ResolutionResponse("0.NA/88.118"), expiration=7)
    assert (resp.request_id, resp.session_id, resp.op_code) == (0x01020304, 0, OC_RESOLUTION)
    assert resp.certify and resp.return_request_digest and resp.recursive and resp.public_only
    assert not resp.keep_alive
    assert resp.request_digest is not None
    assert resp.request_digest.alg == HASH_CODE_SHA256
    assert resp.request_digest.digest == hashlib.sha256(encode_header_body(req)).digest()
    back = decode_packet(encode_tcp(resp))
    assert back.request_digest == resp.request_digest


def test_challenge_carries_digest_of_received_bytes() -> None:
    req = decoded_request()
    ch = make_challenge(req, NONCE, expiration=0)
    assert ch.response_code == RC_AUTHENTICATION_NEEDED
    assert ch.body == ChallengeResponse(NONCE)
    # digest over the header and body exactly as received (credential length excluded)
    assert challenge_digest(ch).digest == hashlib.sha256(RESOLUTION_REQUEST[:-4]).digest()
    back = decode_packet(encode_tcp(ch))
    assert challenge_digest(back) == challenge_digest(ch)


def test_old_protocol_challenge_puts_md5_in_body() -> None:
    req = Message(
        OC_CREATE_HANDLE,
        body=ValuesRequest("1/2"),
        major_version=2,
        minor_version=0,
        suggest_major_version=2,
        suggest_minor_version=0,
    )
    ch = make_challenge(req, NONCE, expiration=0)
    assert (ch.major_version, ch.minor_version) == (2, 0)
    raw = encode_tcp(ch)
    assert decode_envelope(raw).minor_version == 0
    back = decode_packet(raw)
    assert not back.return_request_digest
    rd = challenge_digest(back)
    assert rd.alg == HASH_CODE_MD5_OLD_FORMAT
    assert rd.digest == hashlib.md5(encode_header_body(req), usedforsecurity=False).digest()


def test_secret_key_answer_codes_by_version() -> None:
    assert secret_key_answer_code(2, 0) == HASH_CODE_MD5_OLD_FORMAT
    assert secret_key_answer_code(2, 5) == HASH_CODE_SHA1
    assert secret_key_answer_code(2, 10) == HASH_CODE_PBKDF2_HMAC_SHA1


def test_secret_key_known_answers() -> None:
    data = NONCE + DIGEST
    # Util.doMac: SHA-1 / MD5 codes are H(key + data + key); HMAC codes are HMAC(key, data)
    assert secret_key_answer(NONCE, DIGEST, KEY, HASH_CODE_SHA1) == (
        b"\x02" + hashlib.sha1(KEY + data + KEY, usedforsecurity=False).digest()
    )
    assert secret_key_answer(NONCE, DIGEST, KEY, HASH_CODE_MD5) == (
        b"\x01" + hashlib.md5(KEY + data + KEY, usedforsecurity=False).digest()
    )
    assert secret_key_answer(NONCE, DIGEST, KEY, HASH_CODE_HMAC_SHA256) == (
        b"\x13" + hmac.new(KEY, data, hashlib.sha256).digest()
    )
    assert secret_key_answer(NONCE, DIGEST, KEY, HASH_CODE_MD5_OLD_FORMAT) == (
        hashlib.md5(KEY + data + KEY, usedforsecurity=False).digest()
    )
    # PBKDF2: 0x22, salt, iterations, key bits, HMAC-SHA1 keyed with the derived key;
    # Java feeds the key octets as chars, so 0xE9 becomes UTF-8 C3 A9.
    salt = b"S" * 16
    derived = hashlib.pbkdf2_hmac("sha1", b"\xc3\xa9", salt, 10, 20)
    expected = (
        b"\x22"
        + b"\x00\x00\x00\x10"
        + salt
        + b"\x00\x00\x00\x0a"
        + b"\x00\x00\x00\xa0"
        + b"\x00\x00\x00\x14"
        + hmac.new(derived, data, hashlib.sha1).digest()
    )
    assert secret_key_answer(NONCE, DIGEST, b"\xe9", salt=salt, iterations=10) == expected


@pytest.mark.parametrize(
    "code",
    [
        HASH_CODE_MD5,
        HASH_CODE_SHA1,
        HASH_CODE_HMAC_SHA1,
        HASH_CODE_HMAC_SHA256,
        HASH_CODE_PBKDF2_HMAC_SHA1,
    ],
)
def test_secret_key_verify(code: int) -> None:
    answer = secret_key_answer(NONCE, DIGEST, KEY, code, iterations=100)
    assert verify_secret_key_answer(NONCE, DIGEST, KEY, answer)
    assert not verify_secret_key_answer(NONCE, DIGEST, b"wrong", answer)
    assert not verify_secret_key_answer(bytes(16), DIGEST, KEY, answer)
    assert not verify_secret_key_answer(NONCE, DIGEST, KEY, answer[:-1] + b"\0")


def test_secret_key_verify_old_and_hostile() -> None:
    old = secret_key_answer(NONCE, DIGEST, KEY, HASH_CODE_MD5_OLD_FORMAT)
    assert verify_secret_key_answer(NONCE, DIGEST, KEY, old, old_format=True)
    assert not verify_secret_key_answer(NONCE, DIGEST, KEY, b"")
    assert not verify_secret_key_answer(NONCE, DIGEST, KEY, b"\x77abc")
    # absurd PBKDF2 iteration count is refused, not computed
    hostile = b"\x22\x00\x00\x00\x00\x7f\xff\xff\xff\x00\x00\x00\xa0\x00\x00\x00\x00"
    assert not verify_secret_key_answer(NONCE, DIGEST, KEY, hostile)


def test_public_key_answers(rsa_key: rsa.RSAPrivateKey, dsa_key: dsa.DSAPrivateKey) -> None:
    # Util.getDefaultSigId: SHA-256, but SHA-1 for DSA below 2.11
    cases = ((rsa_key, b"SHA-256", (2, 11)), (dsa_key, b"SHA-256", (2, 11)),
             (dsa_key, b"SHA1", (2, 10)), (rsa_key, b"SHA-256", (2, 10)))
    assert public_key_answer(NONCE, DIGEST, rsa_key)[4:11] == b"SHA-256"  # ours: 2.11
    for key, alg, version in cases:
        answer = public_key_answer(NONCE, DIGEST, key, version=version)
        assert answer[4 : 4 + len(alg)] == alg
        pub = key.public_key()
        assert verify_public_key_answer(NONCE, DIGEST, pub, answer)
        assert not verify_public_key_answer(bytes(16), DIGEST, pub, answer)
        assert not verify_public_key_answer(NONCE, DIGEST, pub, answer[:-2])
        assert not verify_public_key_answer(NONCE, DIGEST, pub, b"junk")


def test_public_key_objects_roundtrip(
    rsa_key: rsa.RSAPrivateKey, dsa_key: dsa.DSAPrivateKey
) -> None:
    for key in (rsa_key, dsa_key):
        pub = key.public_key()
        blob = encode_public_key(pub)
        assert decode_public_key(blob).public_numbers() == pub.public_numbers()
    rsa_blob = encode_public_key(rsa_key.public_key())
    # "RSA_PUB_KEY", flags, e = 01 00 01, n with a leading zero octet (top bit set)
    assert rsa_blob[:21] == b"\0\0\0\x0bRSA_PUB_KEY\0\0\0\0\0\x03\x01\x00\x01"[:21]
    assert rsa_blob[24:29] == b"\0\0\0\x81\0"


def _certified_response() -> Message:
    return Message(
        OC_RESOLUTION,
        RC_SUCCESS,
        ResolutionResponse("0.NA/88.118"),
        request_id=9,
        session_id=3,
        expiration=5,
    )


@pytest.mark.parametrize("version", [(2, 10), (2, 7), (2, 6), (2, 4)])
def test_signed_responses(
    version: tuple[int, int], rsa_key: rsa.RSAPrivateKey, dsa_key: dsa.DSAPrivateKey
) -> None:
    for key in (rsa_key, dsa_key):
        msg = _certified_response()
        msg.major_version, msg.minor_version = version
        sign_message(msg, key)
        back = decode_packet(encode_tcp(msg))
        assert verify_message_signature(back, key.public_key())
        cred = decode_credential(back.signature or b"")
        assert cred.type == b"HS_SIGNED"
        tampered = decode_packet(encode_tcp(msg))
        tampered.encoded = (tampered.encoded or b"")[:-1] + b"X"
        assert not verify_message_signature(tampered, key.public_key())
        assert not verify_message_mac(back, KEY)


@pytest.mark.parametrize("version", [(2, 10), (2, 7), (2, 6), (2, 5), (2, 4)])
def test_mac_credentials(version: tuple[int, int]) -> None:
    msg = _certified_response()
    msg.major_version, msg.minor_version = version
    sign_message_mac(msg, KEY, session_counter=4)
    back = decode_packet(encode_tcp(msg))
    assert verify_message_mac(back, KEY)
    assert not verify_message_mac(back, b"other")
    assert decode_credential(back.signature or b"").session_counter == 4
    assert (mac_counter(back, KEY), mac_counter(back, b"other")) == (4, None)


def test_mac_credential_bytes_at_2_11() -> None:
    # AbstractMessage.signMessage(byte[]): version 0, reserved 0, flags 0, empty signer,
    # counter, "HS_MAC", section length, "HMAC-SHA256", HMAC over
    # maj min suggestMaj suggestMin | session id | request id | counter | header+body.
    msg = _certified_response()
    sign_message_mac(msg, KEY, session_counter=4)
    hb = encode_header_body(msg)
    prefix = bytes([2, 11, 2, 11]) + (3).to_bytes(4, "big") + (9).to_bytes(4, "big")
    tag = hmac.new(KEY, prefix + (4).to_bytes(4, "big") + hb, hashlib.sha256).digest()
    assert msg.signature == (
        b"\x00\x00\x00\x00"
        + b"\x00\x00\x00\x00"
        + b"\x00\x00\x00\x04"
        + b"\x00\x00\x00\x06HS_MAC"
        + (8 + 11 + 32).to_bytes(4, "big")
        + b"\x00\x00\x00\x0bHMAC-SHA256"
        + b"\x00\x00\x00\x20"
        + tag
    )


def test_request_unchanged_by_digest() -> None:
    req = Message(OC_RESOLUTION, body=ResolutionRequest("a/b"))
    assert make_challenge(req, NONCE).request_digest is not None
