"""Challenge-answer cryptography, challenge bookkeeping and permission bits (no I/O)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from protocol.constants import (
    ADMIN_PERM_ADD_ADMIN,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_MODIFY_ADMIN,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_REMOVE_ADMIN,
    ADMIN_PERM_REMOVE_VALUE,
    HASH_CODE_HMAC_SHA1,
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
)
from protocol.public_key import decode_public_key, encode_public_key
from protocol.values import HandleValue
from protocol.wire import Writer
from resolver import auth
from resolver.permissions import (
    bits_to_add,
    bits_to_modify,
    bits_to_remove,
    bits_to_replace,
)
from resolver.sessions import ChallengeTable

NONCE = bytes(range(16))
DIGEST = hashlib.sha256(b"request").digest()
KEY = b"s3cret"


@pytest.mark.parametrize(
    "alg",
    [
        HASH_CODE_MD5,
        HASH_CODE_SHA1,
        HASH_CODE_SHA256,
        HASH_CODE_HMAC_SHA1,
        HASH_CODE_HMAC_SHA256,
        HASH_CODE_PBKDF2_HMAC_SHA1,
    ],
)
def test_secret_key_answers_verify_only_with_the_key(alg: int) -> None:
    answer = auth.answer_with_secret_key(KEY, NONCE, DIGEST, alg)
    assert answer[0] == alg
    assert auth.verify_secret_key_answer(KEY, NONCE, DIGEST, answer)
    assert not auth.verify_secret_key_answer(b"other", NONCE, DIGEST, answer)
    assert not auth.verify_secret_key_answer(KEY, bytes(16), DIGEST, answer)
    assert not auth.verify_secret_key_answer(KEY, NONCE, DIGEST, answer[:-1] + b"\0")


def test_secret_key_mac_forms_match_cnri_util_domac() -> None:
    data = NONCE + DIGEST
    assert auth.secret_key_mac(HASH_CODE_SHA1, KEY, data) == hashlib.sha1(KEY + data + KEY).digest()  # noqa: S324 protocol
    assert auth.secret_key_mac(HASH_CODE_HMAC_SHA256, KEY, data) == hmac.new(
        KEY, data, "sha256"
    ).digest()
    salt = b"0123456789abcdef"
    derived = hashlib.pbkdf2_hmac("sha1", KEY, salt, 10000, 20)
    mac = hmac.new(derived, data, "sha1").digest()
    encoded = Writer().byte_array(salt).i32(10000).i32(160).byte_array(mac).getvalue()
    assert auth.verify_secret_key_answer(
        KEY, NONCE, DIGEST, bytes([HASH_CODE_PBKDF2_HMAC_SHA1]) + encoded
    )


def test_old_format_answer_is_bare_md5() -> None:
    answer = hashlib.md5(KEY + NONCE + DIGEST + KEY).digest()  # noqa: S324 protocol
    assert auth.verify_secret_key_answer(KEY, NONCE, DIGEST, answer, old_format=True)


def test_pbkdf2_parameters_a_client_sends_are_bounded() -> None:
    huge = Writer().byte_array(b"salt").i32(10**9).i32(160).byte_array(b"x" * 20).getvalue()
    answer = bytes([HASH_CODE_PBKDF2_HMAC_SHA1]) + huge
    assert not auth.verify_secret_key_answer(KEY, NONCE, DIGEST, answer)
    assert not auth.verify_secret_key_answer(KEY, NONCE, DIGEST, b"")
    assert not auth.verify_secret_key_answer(KEY, NONCE, DIGEST, b"\x77garbage")


@pytest.mark.parametrize(
    ("make_key", "hash_name"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), "sha256"),
        (lambda: rsa.generate_private_key(65537, 2048), "sha1"),
        (lambda: dsa.generate_private_key(2048), "sha1"),
        (lambda: dsa.generate_private_key(2048), "sha256"),
    ],
)
def test_public_key_answers(make_key, hash_name: str) -> None:  # type: ignore[no-untyped-def]
    private = make_key()
    public = decode_public_key(encode_public_key(private.public_key()))
    answer = auth.answer_with_private_key(private, NONCE, DIGEST, hash_name)
    assert auth.verify_public_key_answer(public, NONCE, DIGEST, answer)
    assert not auth.verify_public_key_answer(public, NONCE, bytes(32), answer)
    other = make_key().public_key()
    assert not auth.verify_public_key_answer(other, NONCE, DIGEST, answer)
    assert not auth.verify_public_key_answer(public, NONCE, DIGEST, b"\0\0\0\x01")


def test_default_signature_hash_follows_cnri() -> None:
    d = dsa.generate_private_key(2048)
    r = rsa.generate_private_key(65537, 2048)
    assert auth.default_hash_for(d, 2, 10) == "sha1"
    assert auth.default_hash_for(d, 2, 11) == "sha256"
    assert auth.default_hash_for(r, 2, 10) == "sha256"
    assert auth.default_hash_for(r, 2, 5) == "sha1"


def test_challenges_are_single_use_and_expire() -> None:
    now = [100.0]
    table: ChallengeTable[str] = ChallengeTable(30.0, 2, clock=lambda: now[0])
    first = table.issue(NONCE, 3, DIGEST, "req-1")
    assert first.session_id > 0
    assert table.take(first.session_id) is not None
    assert table.take(first.session_id) is None  # replay
    second = table.issue(NONCE, 3, DIGEST, "req-2")
    now[0] += 31
    assert table.take(second.session_id) is None  # expired
    a = table.issue(NONCE, 3, DIGEST, "a")
    b = table.issue(NONCE, 3, DIGEST, "b")
    c = table.issue(NONCE, 3, DIGEST, "c")
    assert len(table) == 2
    assert table.take(a.session_id) is None  # evicted to stay bounded
    assert table.take(b.session_id) is not None
    assert table.take(c.session_id) is not None


def _v(index: int, type_: str = "URL", data: bytes = b"x", **kw: bool) -> HandleValue:
    return HandleValue(index=index, type=type_, data=data, **kw)


def test_permission_bits_per_operation() -> None:
    existing = [_v(1), _v(100, "HS_ADMIN"), _v(2, public_write=True)]
    assert bits_to_add([_v(3)]) == ADMIN_PERM_ADD_VALUE
    assert bits_to_add([_v(3), _v(101, "HS_ADMIN")]) == ADMIN_PERM_ADD_VALUE | ADMIN_PERM_ADD_ADMIN
    assert bits_to_remove(existing, [1]) == ADMIN_PERM_REMOVE_VALUE
    assert bits_to_remove(existing, [100]) == ADMIN_PERM_REMOVE_ADMIN
    assert bits_to_modify(existing, [_v(1, data=b"y")]) == ADMIN_PERM_MODIFY_VALUE
    assert bits_to_modify(existing, [_v(2, data=b"y")]) == 0  # public write
    assert bits_to_modify(existing, [_v(100, "HS_ADMIN", b"y")]) == ADMIN_PERM_MODIFY_ADMIN
    assert bits_to_modify(existing, [_v(100)]) == ADMIN_PERM_REMOVE_ADMIN | ADMIN_PERM_MODIFY_VALUE
    assert bits_to_modify(existing, [_v(1, "HS_ADMIN")]) == (
        ADMIN_PERM_MODIFY_VALUE | ADMIN_PERM_ADD_ADMIN
    )
    assert bits_to_replace(existing, [_v(1), _v(100, "HS_ADMIN"), _v(2, public_write=True)]) == 0
    assert bits_to_replace(existing, [_v(1), _v(100, "HS_ADMIN")]) == ADMIN_PERM_REMOVE_VALUE
