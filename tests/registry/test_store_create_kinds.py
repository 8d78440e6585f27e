"""A create runs the template, event, link and identifier rules only on records they
can concern (by the record's value types: ``registry.bulk_prepare.record_kinds``)."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.values import HandleValue
from registry import identifiers, links
from registry.bulk_prepare import record_kinds
from registry.store import HandleStore

URL = HandleValue(1, "URL", b"https://example.test")
ADMIN = HandleValue(100, "HS_ADMIN", b"\x0f\xff\x00\x00\x00\x01x\x00\x00\x01\x2c")


@pytest.fixture
def ruled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rules' write hooks replaced by recorders (which module ran, for which handle)."""
    calls: list[str] = []

    def recorder(module: str) -> Any:
        async def on_write(_conn: object, name: str, _old: object, _new: object) -> None:
            calls.append(f"{module} {name}")
        return on_write

    monkeypatch.setattr(links, "on_write", recorder("links"))
    monkeypatch.setattr(identifiers, "on_write", recorder("identifiers"))
    return calls


async def test_a_plain_record_skips_the_rules_others_get_theirs(
    database: HandleStore, ruled: list[str]
) -> None:
    link_type = sorted(links.LINK_RELATIONS)[0]
    id_type = sorted(identifiers.ID_TYPES)[0]
    event_type = links.EVENT_TYPE
    assert record_kinds(frozenset({"URL", "HS_ADMIN"})) == (False, False, False)
    await database.create_handle("88.118.8/plain", [URL, ADMIN], actor="t")
    assert ruled == []
    await database.create_handle("88.118.8/linked", [URL, HandleValue(2, link_type, b"x")],
                                 actor="t")
    await database.create_handle("88.118.8/named", [URL, HandleValue(2, id_type, b"x")],
                                 actor="t")
    await database.create_handle("88.118.8/event", [URL, HandleValue(2, event_type, b"{}")],
                                 actor="t")
    assert ruled == ["links 88.118.8/linked", "identifiers 88.118.8/named",
                     "links 88.118.8/event"]
