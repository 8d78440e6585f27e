"""MAC algorithm names a message may give map to the codes CNRI's ``Util.doMac`` takes:
the common spellings straight from a table, any other spelling letter by letter."""

from __future__ import annotations

import pytest

from protocol.constants import HASH_CODE_HMAC_SHA1, HASH_CODE_HMAC_SHA256, HASH_CODE_SHA256
from protocol.crypto import mac_code
from protocol.errors import ProtocolError


@pytest.mark.parametrize(("name", "code"), [
    (b"HMAC-SHA256", HASH_CODE_HMAC_SHA256), (b"hmac_sha256", HASH_CODE_HMAC_SHA256),
    (b"HmacSHA256", HASH_CODE_HMAC_SHA256), (b"HMAC-SHA1", HASH_CODE_HMAC_SHA1),
    (b"hmac sha1", HASH_CODE_HMAC_SHA1), (b"SHA-256", HASH_CODE_SHA256),
    (bytes([HASH_CODE_HMAC_SHA256]), HASH_CODE_HMAC_SHA256),
])
def test_mac_names(name: bytes, code: int) -> None:
    assert mac_code(name) == code


def test_an_unknown_mac_name_is_refused() -> None:
    with pytest.raises(ProtocolError):
        mac_code(b"HMAC-SHA3")
