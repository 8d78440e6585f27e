"""Value data from text: one parser for ``idnode handle --value`` and CSV import."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.admin_record import decode_admin_record
from protocol.constants import ADMIN_PERM_ALL
from protocol.public_key import encode_public_key
from protocol.references import decode_vlist
from protocol.value_text import ValueSyntaxError, text_type, value_data, value_from_text
from protocol.values import ValueReference


def test_admin_and_vlist_text_become_their_records() -> None:
    admin = decode_admin_record(value_data("hs_admin", "0.NA/88.118.8:300"))
    assert (admin.admin_handle, admin.admin_index, admin.permissions) == (
        "0.NA/88.118.8", 300, ADMIN_PERM_ALL)
    assert decode_vlist(value_data("HS_VLIST", "0.NA/88:300, 0.NA/88.118:200")) == (
        ValueReference("0.NA/88", 300), ValueReference("0.NA/88.118", 200))
    assert value_data("URL", "https://x:1/a") == b"https://x:1/a"


def test_secret_keys_are_admin_only_and_ttls_kept() -> None:
    value = value_from_text(300, " HS_SECKEY ", "s3cret", ttl=60)
    assert (value.type, value.data, value.public_read, value.ttl) == (
        "HS_SECKEY", b"s3cret", False, 60)


@pytest.mark.parametrize(("type_name", "text"), [
    ("HS_ADMIN", "0.NA/88.118.8"), ("HS_ADMIN", "0.NA/88.118.8:x"), ("HS_VLIST", "a,b:1"),
])
def test_malformed_references_name_the_text(type_name: str, text: str) -> None:
    with pytest.raises(ValueSyntaxError, match="HANDLE:INDEX"):
        value_data(type_name, text)


def test_public_key_files_need_a_reader(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "k.pem").write_bytes(pem)
    with pytest.raises(ValueSyntaxError, match="not accepted here"):
        value_data("HS_PUBKEY", "@k.pem")
    read = lambda name: (tmp_path / name).read_bytes()  # noqa: E731
    assert value_data("HS_PUBKEY", "@k.pem", read=read) == encode_public_key(key.public_key())
    with pytest.raises(ValueSyntaxError, match=r"missing\.pem"):
        value_data("HS_PUBKEY", "@missing.pem", read=read)
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN PUBLIC KEY-----\nxx\n")
    with pytest.raises(ValueSyntaxError, match=r"bad\.pem: not a usable"):
        value_data("HS_PUBKEY", "@bad.pem", read=read)


@pytest.mark.parametrize("written", ["URL", " EMAIL ", "hs_seckey", "HS_ADMIN", "hs_vlist",
                                     "HS_PUBKEY", "TRACE.NOTE"])
def test_text_type_says_what_value_from_text_makes(written: str) -> None:
    # the CSV reader builds text values itself when text_type allows it (issue 17)
    made = value_from_text(7, written, "text data", ttl=60) \
        if written.strip().upper() not in ("HS_ADMIN", "HS_VLIST") else None
    found = text_type(written)
    if found is None:
        assert written.strip().upper() in ("HS_ADMIN", "HS_VLIST", "HS_PUBKEY")
        return
    assert made is not None
    assert (made.type, made.public_read, made.data) == (*found, b"text data")
