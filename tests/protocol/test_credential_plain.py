"""The credential section read by slices (``decode_credential``'s plain path) and the MAC
prefix packed at once: the same as the field-by-field reader and the former layout."""

from __future__ import annotations

import hmac
import random
import struct

import pytest

from protocol.bodies import ValuesRequest
from protocol.constants import OC_CREATE_HANDLE
from protocol.credential import (
    Credential,
    _decode_plain,
    _decode_read,
    _mac_value,
    _version_prefix,
    decode_credential,
    encode_credential,
    mac_counter,
    sign_message_mac,
)
from protocol.errors import ProtocolError
from protocol.message import Message

_INT = struct.Struct(">i")


def _sections(rng: random.Random) -> list[bytes]:
    """Well-formed sections of every field size, some with trailing bytes."""
    out = []
    for _ in range(300):
        cred = Credential(
            rng.randbytes(rng.choice((0, 6, 9))), rng.randbytes(rng.randrange(0, 16)),
            rng.randbytes(rng.randrange(0, 64)), rng.randrange(-2**31, 2**31),
            rng.randrange(256), rng.randrange(256), rng.randrange(-2**15, 2**15),
            rng.randbytes(rng.choice((0, 0, 5, 40))))
        data = encode_credential(cred)
        out.append(data + rng.randbytes(rng.choice((0, 0, 3))))
    return out


def _outcome(decode: object, data: bytes) -> object:
    try:
        return decode(data)  # type: ignore[operator]
    except ProtocolError as exc:
        return ("error", str(exc))


def test_plain_reads_what_the_reader_reads() -> None:
    rng = random.Random(17)
    for data in _sections(rng):
        plain = _decode_plain(data)
        assert plain is not None and plain == _decode_read(data)


def test_damaged_sections_decode_or_fail_as_the_reader_says() -> None:
    """Truncated, overlong and mangled sections: the plain path declines what it cannot
    read exactly, and decode_credential answers (value or error) as the reader does."""
    rng = random.Random(18)
    for data in _sections(rng):
        cuts = [data[:i] for i in range(len(data))]
        mangled = []
        for _ in range(20):
            spot = rng.randrange(0, max(1, len(data) - 3))
            word = rng.choice((-1, 2**31 - 1, 2**30, rng.randrange(0, 2**16), 0))
            mangled.append(data[:spot] + _INT.pack(word) + data[spot + 4:])
        for variant in cuts + mangled:
            plain = _decode_plain(variant)
            if plain is not None:
                assert plain == _decode_read(variant)
            assert _outcome(decode_credential, variant) == _outcome(_decode_read, variant)


def _old_prefix(msg: Message, counter: int) -> bytes:
    """The 2.7+ MAC prefix as it was built before: octet by octet, then int by int."""
    def s32(v: int) -> int:
        return v - (1 << 32) if v >= 1 << 31 else v
    out = bytes([msg.major_version & 0xFF, msg.minor_version & 0xFF])
    if msg.at_least(2, 8):
        out += bytes([msg.suggest_major_version & 0xFF, msg.suggest_minor_version & 0xFF])
    return out + b"".join(struct.pack(">i", s32(v))
                          for v in (msg.session_id, msg.request_id, counter))


@pytest.mark.parametrize("version", [(2, 7), (2, 8), (2, 10), (2, 11), (3, 0)])
def test_prefix_packs_as_before(version: tuple[int, int]) -> None:
    rng = random.Random(version[1])
    for _ in range(200):
        msg = Message(OC_CREATE_HANDLE, body=ValuesRequest("0.NA/x", ()),
                      request_id=rng.randrange(0, 2**32), major_version=version[0],
                      minor_version=version[1])
        msg.session_id = rng.randrange(0, 2**32)
        msg.suggest_major_version, msg.suggest_minor_version = rng.randrange(256), \
            rng.randrange(256)
        counter = rng.randrange(-2**31, 2**32)
        assert _version_prefix(msg, counter) == _old_prefix(msg, counter)


def _mac_counter_as_before(msg: Message, key: bytes) -> int | None:
    """mac_counter as it was: the section decoded into a Credential first."""
    if not msg.signature:
        return None
    cred = decode_credential(msg.signature)
    if not cred.is_mac:
        return None
    expected = _mac_value(msg, cred.hash_alg, key, cred.session_counter)
    return cred.session_counter if hmac.compare_digest(expected, cred.signature) else None


@pytest.mark.parametrize("version", [(2, 5), (2, 6), (2, 7), (2, 10), (2, 11)])
def test_mac_counter_reads_sections_as_before(version: tuple[int, int]) -> None:
    """mac_counter, which reads a well-formed section without making a Credential,
    answers (counter, None or error) as it did for MACs good, bad, cut and mangled."""
    rng = random.Random(40 + version[1])
    key = rng.randbytes(32)
    for _ in range(40):
        msg = Message(OC_CREATE_HANDLE, body=ValuesRequest("88.118.8/m", ()),
                      request_id=rng.randrange(1, 2**31), major_version=version[0],
                      minor_version=version[1])
        msg.session_id = rng.randrange(1, 2**31)
        sign_message_mac(msg, key, rng.randrange(1, 2**31))
        assert msg.signature is not None
        good = msg.signature
        variants = [good, good[:rng.randrange(len(good))],
                    good[:-1] + bytes([good[-1] ^ 1]),
                    good.replace(b"HS_MAC", b"HS_SIGNED"[:6])]
        for _ in range(6):
            spot = rng.randrange(0, len(good) - 3)
            variants.append(good[:spot] + _INT.pack(rng.choice((-1, 0, 2**30))) + good[spot + 4:])
        for variant in variants:
            msg.signature = variant
            for k in (key, rng.randbytes(32)):
                assert _outcome(lambda _d, m=msg, k=k: mac_counter(m, k), b"") == _outcome(
                    lambda _d, m=msg, k=k: _mac_counter_as_before(m, k), b"")
        msg.signature = good
        assert mac_counter(msg, key) is not None
