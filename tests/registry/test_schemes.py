"""registry/schemes: every spelling of an identifier lands on one key; bad input is named."""

from __future__ import annotations

import pytest

from registry.schemes import SchemeError, parse_identifier

ITEM = "gs1:01/06901234567892/21/ABC123"


@pytest.mark.parametrize("text", [
    "https://id.example/01/06901234567892/21/ABC123",
    "https://id.example/01/06901234567892/21/ABC123?17=250101",
    "/01/06901234567892/21/ABC123",
    "(01)06901234567892(21)ABC123",
    "(01)06901234567892(17)250101(21)ABC123",
    "urn:epc:id:sgtin:6901234.056789.ABC123",
])
def test_gs1_item_spellings_share_one_key(text: str) -> None:
    found = parse_identifier(text)
    assert (found.scheme, found.key) == ("gs1", ITEM)
    assert found.display == "(01)06901234567892(21)ABC123"


@pytest.mark.parametrize(("text", "key"), [
    ("6901234567892", "gs1:01/06901234567892"),          # GTIN-13
    ("96385074", "gs1:01/00000096385074"),               # GTIN-8
    ("036000291452", "gs1:01/00036000291452"),           # GTIN-12 (UPC-A)
    ("10614141000415", "gs1:01/10614141000415"),         # GTIN-14
    ("106141412345678908", "gs1:00/106141412345678908"),  # SSCC
    ("urn:epc:id:sscc:0614141.1234567890", "gs1:00/106141412345678908"),
    ("(00)106141412345678908", "gs1:00/106141412345678908"),
    ("(01)06901234567892(10)LOT-7", "gs1:01/06901234567892/10/LOT-7"),
    ("/01/06901234567892/10/L1/21/S%2F1", "gs1:01/06901234567892/10/L1/21/S%2F1"),
    ("(8004)6901234ASSET42", "gs1:8004/6901234ASSET42"),
])
def test_gs1_keys(text: str, key: str) -> None:
    assert parse_identifier(text).key == key


@pytest.mark.parametrize(("text", "reason"), [
    ("6901234567893", "check digit"),
    ("(01)06901234567893(21)X", "check digit"),
    ("https://id.example/01/06901234567893", "check digit"),
    ("106141412345678909", "check digit"),
    ("(99X)123", "element string"),
    ("(17)250101", "primary key"),
    ("(01)06901234567892(00)106141412345678908", "exactly one"),
    ("(01)06901234567892(21)A B", "no spaces"),
    ("https://id.example/01/06901234567892/21/" + "S" * 21, "pattern"),
    ("https://id.example/nope/1", "Digital Link"),
    ("urn:epc:id:sgtin:6901234.05678.X", "13 digits"),
    ("urn:epc:id:giai:1.2", "EPC"),
])
def test_gs1_errors_name_the_input_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(SchemeError) as caught:
        parse_identifier(text)
    assert text[:20] in str(caught.value)
    assert reason in str(caught.value)


@pytest.mark.parametrize(("text", "key"), [
    ("urn:oid:1.2.156.3001.1", "oid:1.2.156.3001.1"),
    ("OID:2.16.156.1", "oid:2.16.156.1"),
    ("1.2.156.1", "oid:1.2.156.1"),
])
def test_oids(text: str, key: str) -> None:
    assert parse_identifier(text).key == key


@pytest.mark.parametrize(("text", "reason"), [
    ("urn:oid:1.45.1", "below 40"),
    ("urn:oid:3.1.1", "root arc"),
    ("urn:oid:1.2.0156", "leading zero"),
    ("oid:1.2.x", "decimal"),
    ("oid:1", "two arcs"),
    ("oid:1." + ".".join(["1"] * 70), "more than 64"),
])
def test_oid_errors(text: str, reason: str) -> None:
    with pytest.raises(SchemeError, match=reason):
        parse_identifier(text)


@pytest.mark.parametrize("text", ["", "   ", "hello", "88.118.8/TV-0001", "12345"])
def test_not_an_identifier_of_any_scheme(text: str) -> None:
    with pytest.raises(SchemeError):
        parse_identifier(text)


def test_size_is_bounded() -> None:
    with pytest.raises(SchemeError, match="longer than"):
        parse_identifier("(01)06901234567892(21)" + "A" * 600)


@pytest.mark.parametrize(("text", "key"), [
    ("ecode:1000100000000000000001234", "ecode:1000100000000000000001234"),
    ("Ecode 1 0001 0000 0000 0000 0000 1234", "ecode:1000100000000000000001234"),
    ("urn:ecode:2-0001-1234567890123456789012345678", "ecode:200011234567890123456789012345678"),
    ("ECODE:3 10001 ABC123XYZ", "ecode:310001ABC123XYZ"),
    ("ecode:4 10001 海尔冰箱/BCD-470", "ecode:410001海尔冰箱/BCD-470"),
])
def test_ecodes(text: str, key: str) -> None:
    identifier = parse_identifier(text)
    assert (identifier.scheme, identifier.key) == ("ecode", key)


def test_ecode_v0_is_the_gs1_code_it_carries() -> None:
    assert parse_identifier("ecode:0(01)06901234567892(21)A") == parse_identifier(
        "(01)06901234567892(21)A")


@pytest.mark.parametrize(("text", "reason"), [
    ("ecode:", "empty"),
    ("ecode:5000112", "reserved"),
    ("ecode:10001", "no master data code"),
    ("ecode:1 00A1 23", "4-digit numbering-scheme identifier"),
    ("ecode:3 1000 ABC", "5-digit numbering-scheme identifier"),
    ("ecode:1 0001 123456789012345678901", "21 characters, at most 20"),
    ("ecode:2 0001 12345678901234567890123456789", "at most 28"),
    ("ecode:1 0001 12AB", "decimal digits"),
    ("ecode:3 10001 abc", "upper-case letters"),
    ("ecode:4 10001 a\x01b", "printable"),
    ("ecode:4 10001 " + "码" * 129, "at most 128"),
    ("ecode:0(01)06901234567893", "check digit"),
    ("ecode:0hello", "carries a GS1 code"),
])
def test_ecode_errors_name_the_input_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(SchemeError, match=reason) as caught:
        parse_identifier(text)
    assert text.strip()[:12] in str(caught.value)


def test_a_bare_digit_run_is_not_taken_for_an_ecode() -> None:
    with pytest.raises(SchemeError, match="Ecode"):
        parse_identifier("1000100000000000000001234")
