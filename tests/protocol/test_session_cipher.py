"""Session encryption (protocol.session_cipher) against CNRI 9.2's SessionInfo.encryptBuffer."""

from __future__ import annotations

import pytest

from protocol.errors import ProtocolError
from protocol.session_cipher import decrypt, encrypt

KEY = bytes(range(32))
PLAIN = b"idnode session plaintext, longer than one block"
#: ``new SessionInfo(7, KEY, null, -1, ENCRYPT_ALG_AES, 2, 11).encryptBuffer(PLAIN)`` (IV first)
CNRI_CIPHERTEXT = bytes.fromhex(
    "6261475E3105765983A2E703622D4D883E9A348731CFF0035F93D37D57B1B5BA"
    "FBEC7173FE3C2F4C6438D6A2DF5871AFC1924729D7D7B16D77091A24FB5127B4"
)


def test_decrypts_what_cnri_encrypted() -> None:
    assert decrypt(KEY, CNRI_CIPHERTEXT) == PLAIN


def test_round_trip_with_a_fresh_iv() -> None:
    one, two = encrypt(KEY, PLAIN), encrypt(KEY, PLAIN)
    assert one != two and len(one) == 16 + 48
    assert decrypt(KEY, one) == decrypt(KEY, two) == PLAIN


@pytest.mark.parametrize("bad", [b"", CNRI_CIPHERTEXT[:20], CNRI_CIPHERTEXT[:-1]])
def test_bad_ciphertext(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        decrypt(KEY, bad)


def test_wrong_key() -> None:
    with pytest.raises(ProtocolError, match="does not decrypt"):
        decrypt(bytes(32), CNRI_CIPHERTEXT)
