"""``idnode resolve`` takes a GS1 code / EPC URI / OID / Ecode a record carries and resolves
its handle."""

from __future__ import annotations

import pytest

from admin.context import EXIT_FAILED, EXIT_USAGE
from tests.admin.conftest import Node

FRIDGE = "88.118.8/FRIDGE-9"


@pytest.fixture
def carrying(node: Node) -> Node:
    node.run("handle", "create", FRIDGE, "--value", "1:URL:https://example.com/f9",
             "--value", "2:ID.GS1:(01)06901234567892(21)F9",
             "--value", "3:ID.OID:urn:oid:1.2.156.3001.9",
             "--value", "4:ID.ECODE:ecode:310001FRIDGE9")
    return node


@pytest.mark.parametrize("text", [
    "urn:epc:id:sgtin:6901234.056789.F9", "https://id.gs1.org/01/06901234567892/21/F9",
    "1.2.156.3001.9", "Ecode 3 10001 FRIDGE9",
])
def test_resolve_by_another_scheme(carrying: Node, text: str) -> None:
    answer = carrying.json("resolve", text)
    assert answer["handle"] == FRIDGE
    assert answer["identifier"]["scheme"] in ("gs1", "oid", "ecode")
    text_out = carrying.run("resolve", text).stdout
    assert FRIDGE in text_out and "found by" in text_out


def test_unknown_and_malformed_codes(carrying: Node) -> None:
    missing = carrying.run("resolve", "96385074", expect=EXIT_FAILED)
    assert "not found" in missing.stderr and "01/00000096385074" in missing.stderr
    bad = carrying.run("resolve", "(01)06901234567893", expect=EXIT_USAGE)
    assert "check digit" in bad.stderr
    bad_ecode = carrying.run("resolve", "ecode:3 10001 fridge9", expect=EXIT_USAGE)
    assert "upper-case letters" in bad_ecode.stderr and "fridge9" in bad_ecode.stderr
    remote = carrying.run("resolve", "1.2.156.3001.9", "--server", "127.0.0.1:1",
                          expect=EXIT_USAGE)
    assert "not a handle" in remote.stderr


def test_a_second_record_cannot_take_the_code(carrying: Node) -> None:
    # the GTIN alone (a product class) is another key than GTIN + serial (one item)
    carrying.run("handle", "create", "88.118.8/CLASS", "--value", "2:ID.GS1:06901234567892")
    clash = carrying.run("handle", "create", "88.118.8/OTHER2", "--value",
                         "2:ID.GS1:urn:epc:id:sgtin:6901234.056789.F9", expect=EXIT_FAILED)
    assert f"already bound to {FRIDGE}" in clash.stderr
