"""Byte compatibility with the CNRI handle software itself.

``data/cnri_vectors.tsv`` holds the output of CNRI's own ``net.handle.hdllib``
(Encoder, GsonUtility, SiteInfo, the authentication classes), run once on a
developer machine outside this repository; nothing of CNRI's code, and no
program or recipe that builds it, is kept here.  Every message
must decode and re-encode to exactly CNRI's bytes, every value must render as
the same JSON as GsonUtility, and CNRI's MACs, signatures, challenge answers
and handle hashes must verify/agree with ours.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from protocol.admin_record import decode_admin_record, encode_admin_record
from protocol.auth import challenge_digest, verify_public_key_answer, verify_secret_key_answer
from protocol.bodies import ChallengeResponse
from protocol.credential import verify_message_mac, verify_message_signature
from protocol.envelope import Envelope, decode_envelope, encode_envelope
from protocol.message import decode_message, encode_message
from protocol.public_key import decode_key_numbers, decode_public_key, encode_key_numbers
from protocol.rest_json import value_from_json, value_to_json
from protocol.server_select import handle_hash
from protocol.site_info import decode_site_info, encode_site_info
from protocol.value_codec import decode_value, encode_value

DATA = Path(__file__).with_name("data") / "cnri_vectors.tsv"


def _load() -> tuple[dict[str, list[str]], dict[str, list[object]]]:
    raw: dict[str, list[str]] = {}
    js: dict[str, list[object]] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        name, value = line.split("\t", 1)
        if name.startswith("json:"):
            js.setdefault(name[5:], []).append(json.loads(value))
        else:
            raw.setdefault(name, []).append(value)
    return raw, js


RAW, JSON = _load()
ONE = {k: bytes.fromhex(v[0]) for k, v in RAW.items() if not k.startswith("hash:")}
MESSAGES = sorted(
    k
    for k in ONE
    if not k.startswith(("value:", "hash:", "admin", "site", "seckey", "pubkey"))
    and not k.endswith("_pub")
    and k not in ("envelope", "challenged_request")
)


def _envelope(name: str, raw: bytes) -> Envelope:
    minor, session = 10, 0
    if name.startswith(("mac_", "sig_")):
        minor, session = int(name.rsplit("_", 1)[1]), 77
    if name == "challenge_2_0":
        minor = 0
    return Envelope(
        message_length=len(raw),
        request_id=0x01020304,
        session_id=session,
        minor_version=minor,
        suggest_minor_version=10,
    )


def test_values_and_their_json() -> None:
    count = 0
    for name, hexes in RAW.items():
        if not name.startswith("value:"):
            continue
        for i, hx in enumerate(hexes):
            raw = bytes.fromhex(hx)
            value = decode_value(raw)
            assert encode_value(value) == raw, name
            assert value_to_json(value) == JSON[name][i], name
            assert value_from_json(JSON[name][i]) == value, name
            count += 1
    assert count >= 9


def test_records() -> None:
    assert encode_site_info(decode_site_info(ONE["site"])) == ONE["site"]
    for name in ("admin", "admin_legacy"):
        assert encode_admin_record(decode_admin_record(ONE[name])) == ONE[name]
    for name in ("rsa_pub", "dsa_pub"):
        assert encode_key_numbers(decode_key_numbers(ONE[name])) == ONE[name]
        decode_public_key(ONE[name])
    env = decode_envelope(ONE["envelope"])
    assert (env.suggest_minor_version, env.request_id, env.truncated) == (11, -2, True)
    assert encode_envelope(env) == ONE["envelope"]


@pytest.mark.parametrize("name", MESSAGES)
def test_message_reencodes_identically(name: str) -> None:
    raw = ONE[name]
    msg = decode_message(_envelope(name, raw), raw)
    assert encode_message(msg) == raw


@pytest.mark.parametrize("minor", [10, 8, 7, 6, 5, 4])
def test_cnri_credentials_verify(minor: int) -> None:
    rsa_pub = decode_public_key(ONE["rsa_pub"])
    mac = decode_message(_envelope(f"mac_2_{minor}", ONE[f"mac_2_{minor}"]), ONE[f"mac_2_{minor}"])
    assert verify_message_mac(mac, b"sessionkey")
    assert not verify_message_mac(mac, b"other")
    sig = decode_message(_envelope(f"sig_2_{minor}", ONE[f"sig_2_{minor}"]), ONE[f"sig_2_{minor}"])
    assert verify_message_signature(sig, rsa_pub)


def test_certified_responses_verify() -> None:
    for name, key in (("rsa", "rsa_pub"), ("dsa", "dsa_pub")):
        raw = ONE[f"resolution_response_signed_{name}"]
        msg = decode_message(_envelope(name, raw), raw)
        assert verify_message_signature(msg, decode_public_key(ONE[key]))


def test_challenge_and_answers() -> None:
    challenge = decode_message(_envelope("challenge", ONE["challenge"]), ONE["challenge"])
    assert isinstance(challenge.body, ChallengeResponse)
    rd = challenge_digest(challenge)
    assert rd.digest == hashlib.sha256(ONE["challenged_request"]).digest()
    nonce = challenge.body.nonce
    assert verify_secret_key_answer(nonce, rd.digest, b"s3cret", ONE["seckey_answer_sha1"])
    assert verify_secret_key_answer(
        nonce, rd.digest, b"\xe9\x41", ONE["seckey_answer_pbkdf2_nonascii"]
    )
    for kind in ("rsa", "dsa"):
        key = decode_public_key(ONE[f"{kind}_pub"])
        assert verify_public_key_answer(nonce, rd.digest, key, ONE[f"pubkey_answer_{kind}"])
    old = decode_message(_envelope("challenge_2_0", ONE["challenge_2_0"]), ONE["challenge_2_0"])
    old_rd = challenge_digest(old)
    assert old_rd.alg == 0
    assert old_rd.digest == hashlib.md5(ONE["challenged_request"], usedforsecurity=False).digest()


def test_handle_hashes() -> None:
    count = 0
    for name, values in RAW.items():
        if name.startswith("hash:"):
            _, option, handle = name.split(":", 2)
            assert handle_hash(handle, int(option)) == int(values[0]), name
            count += 1
    assert count == 18
