"""Challenge/response authentication (RFC 3652 section 3.5, CNRI 9.x behaviour).

1. The server answers an administrative request with a challenge:
   :func:`make_challenge` (RC_AUTHENTICATION_NEEDED, a 16-octet nonce and the
   digest of the request).
2. The client answers with a ChallengeAnswerRequest whose ``signed_response`` is
   built over ``nonce + request_digest`` by :func:`secret_key_answer`
   (``SecretKeyAuthenticationInfo.authenticate``) or :func:`public_key_answer`
   (``PublicKeyAuthenticationInfo.authenticate``).
3. The server checks it with :func:`verify_secret_key_answer` (as
   ``HandleServer.verifyChallenge``) or :func:`verify_public_key_answer`.

Secret-key answers are ``code || mac``: code 1 MD5 / 2 SHA-1 (``H(key+data+key)``),
0x12/0x13 HMAC-SHA1/256, or 0x22 PBKDF2-HMAC-SHA1 whose "mac" is
``salt:bytes iterations:int4 key_bits:int4 hmac:bytes``; before protocol 2.1 the
answer is the bare MD5 value.  Public-key answers are ``hash_alg:bytes
signature:bytes``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from protocol.bodies import ChallengeResponse
from protocol.constants import (
    CHALLENGE_NONCE_SIZE,
    HASH_CODE_MD5,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    HASH_CODE_SHA1,
    PROTOCOL_MAJOR_VERSION,
    PROTOCOL_MINOR_VERSION,
    RC_AUTHENTICATION_NEEDED,
)
from protocol.crypto import default_signature_hash, mac, sign, verify
from protocol.digests import RequestDigest
from protocol.errors import ProtocolError
from protocol.key_types import HandlePrivateKey, HandlePublicKey
from protocol.message import Message, make_response
from protocol.versions import at_least
from protocol.wire import Reader, Writer

#: refuse PBKDF2 parameters above these (CNRI itself uses 10000 iterations, 160 bits);
#: a server also bounds the work of one answer (iterations x 160-bit blocks) by the
#: iteration limit (resolver.core.service)
MAX_PBKDF2_ITERATIONS = 100_000
MAX_PBKDF2_KEY_BITS = 4096


def new_nonce() -> bytes:
    """A fresh random 16-octet challenge nonce."""
    return os.urandom(CHALLENGE_NONCE_SIZE)


def make_challenge(
    request: Message, nonce: bytes | None = None, *, expiration: int | None = None
) -> Message:
    """The RC_AUTHENTICATION_NEEDED response to ``request`` (``ChallengeResponse(req)``)."""
    nonce = new_nonce() if nonce is None else nonce
    body = ChallengeResponse(nonce)
    resp = make_response(request, RC_AUTHENTICATION_NEEDED, body, expiration=expiration)
    rd = resp.request_digest
    if rd is not None and not resp.at_least(2, 1):
        resp.body = ChallengeResponse(nonce, rd.digest)
    return resp


def challenge_digest(challenge: Message) -> RequestDigest:
    """The request digest a decoded challenge carries (in the header area from
    2.1 on, in the body before)."""
    body = challenge.body
    if not isinstance(body, ChallengeResponse):
        raise ProtocolError("not a challenge")
    if body.legacy_request_digest is not None:
        return RequestDigest(HASH_CODE_MD5_OLD_FORMAT, body.legacy_request_digest)
    if challenge.request_digest is None:
        raise ProtocolError("challenge without request digest")
    return challenge.request_digest


def secret_key_answer_code(major: int, minor: int) -> int:
    """The MAC code CNRI's client picks for a challenge of this version."""
    if not at_least(major, minor, 2, 1):
        return HASH_CODE_MD5_OLD_FORMAT
    if at_least(major, minor, 2, 7):
        return HASH_CODE_PBKDF2_HMAC_SHA1
    return HASH_CODE_SHA1


def _pbkdf2(key: bytes, salt: bytes, iterations: int, key_bits: int) -> bytes:
    # Java turns each key octet into a char and PBKDF2WithHmacSHA1 UTF-8-encodes it
    password = key.decode("latin-1").encode("utf-8")
    return hashlib.pbkdf2_hmac("sha1", password, salt, iterations, key_bits // 8)


def _pbkdf2_encoding(data: bytes, key: bytes, salt: bytes, iterations: int, key_bits: int) -> bytes:
    if not 0 < iterations <= MAX_PBKDF2_ITERATIONS or not 0 < key_bits <= MAX_PBKDF2_KEY_BITS:
        raise ProtocolError("PBKDF2 parameters out of range")
    derived = _pbkdf2(key, salt, iterations, key_bits)
    tag = hmac.new(derived, data, hashlib.sha1).digest()
    return Writer().byte_array(salt).i32(iterations).i32(key_bits).byte_array(tag).getvalue()


def secret_key_answer_work(signed_response: bytes, old_format: bool = False) -> int:
    """What checking this answer against one key costs, in hash-block units: for
    PBKDF2 ``iterations x blocks`` (one block per 160 derived bits), else 1.
    Raises ProtocolError for a malformed PBKDF2 answer.  Lets a server refuse
    an answer before spending anything on it."""
    if old_format or signed_response[:1] != bytes([HASH_CODE_PBKDF2_HMAC_SHA1]):
        return 1
    r = Reader(signed_response, 1)
    r.byte_array()
    iterations, key_bits = r.i32(), r.i32()
    if iterations <= 0 or key_bits <= 0:
        raise ProtocolError("PBKDF2 parameters out of range")
    return iterations * -(-key_bits // 160)


def secret_key_answer(
    nonce: bytes,
    request_digest: bytes,
    secret_key: bytes,
    code: int = HASH_CODE_PBKDF2_HMAC_SHA1,
    *,
    salt: bytes | None = None,
    iterations: int = 10000,
    key_bits: int = 160,
) -> bytes:
    """``signed_response`` for an HS_SECKEY challenge answer."""
    data = nonce + request_digest
    if code == HASH_CODE_PBKDF2_HMAC_SHA1:
        salt = os.urandom(16) if salt is None else salt
        value = _pbkdf2_encoding(data, secret_key, salt, iterations, key_bits)
    else:
        value = mac(code, data, secret_key)
    if code == HASH_CODE_MD5_OLD_FORMAT:
        return value
    return bytes([code]) + value


def verify_secret_key_answer(
    nonce: bytes,
    request_digest: bytes,
    secret_key: bytes,
    signed_response: bytes,
    old_format: bool = False,
) -> bool:
    """Check an HS_SECKEY answer (``old_format``: the answer came in a message
    older than 2.1, so it is a bare MD5 value)."""
    data = nonce + request_digest
    if old_format:
        code, answer = HASH_CODE_MD5, signed_response
    elif signed_response:
        code, answer = signed_response[0], signed_response[1:]
    else:
        return False
    try:
        if code == HASH_CODE_PBKDF2_HMAC_SHA1:
            r = Reader(answer)
            salt, iterations, key_bits = r.byte_array(), r.i32(), r.i32()
            expected = _pbkdf2_encoding(data, secret_key, salt, iterations, key_bits)
        else:
            expected = mac(code, data, secret_key)
    except ProtocolError:
        return False
    return hmac.compare_digest(expected, answer)


def public_key_answer(
    nonce: bytes,
    request_digest: bytes,
    private_key: HandlePrivateKey,
    hash_alg: bytes | None = None,
    version: tuple[int, int] = (PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION),
) -> bytes:
    """``signed_response`` for an HS_PUBKEY challenge answer: the hash id and
    the signature over ``nonce + request_digest``."""
    if hash_alg is None:
        hash_alg = default_signature_hash(private_key, *version)
    signature = sign(private_key, hash_alg, nonce, request_digest)
    return Writer().byte_array(hash_alg).byte_array(signature).getvalue()


def verify_public_key_answer(
    nonce: bytes, request_digest: bytes, public_key: HandlePublicKey, signed_response: bytes
) -> bool:
    """Check an HS_PUBKEY answer against one public key."""
    try:
        r = Reader(signed_response)
        hash_alg = r.byte_array()
        signature = r.byte_array()
    except ProtocolError:
        return False
    return verify(public_key, hash_alg, signature, nonce, request_digest)
