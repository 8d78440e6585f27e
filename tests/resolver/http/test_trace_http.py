"""The trace endpoint and page over the real HTTP server, and template errors through REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_INVALID_VALUE, RC_PROTOCOL_ERROR
from protocol.rest_json import value_to_json
from registry.store import HandleStore
from tests.resolver.core.test_trace_support import appliance, component, event, templated
from tests.resolver.http.test_rest_harness import ADMIN_ID, SECRET, Served, basic, serve

TV = "88.118.8/TV-9"
BOARD = "88.118.8/BOARD-9"


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Served]:
    async with serve(database, allow_insecure_auth=True) as served:
        doc = appliance(components=[BOARD, "88.118.8/<gone>"])
        events = [event(0, "shipped", "2024-03-01T09:00:00Z", place="<script>x</script>"),
                  event(1, "produced", "2024-02-01T09:00:00Z")]
        await database.create_handle(TV, [*templated("appliance.product@1", doc), *events],
                                     actor="test")
        await database.create_handle(BOARD, templated("component@1", component()), actor="test")
        yield served


@pytest.fixture
async def http(node: Served) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(node.url) as session:
        yield session


async def get(http: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
    async with http.get(path) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, (await response.text(), response.headers)


async def test_the_trace_endpoint(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"/api/trace/{TV}?direction=all&depth=2")
    assert status == 200 and body["handle"] == TV
    assert body["node"]["signature"] == "unsigned" and body["node"]["source"] == "local"
    children = {c["handle"]: c for c in body["down"]["children"]}
    assert children[BOARD]["template"] == "component@1"
    assert children["88.118.8/<gone>"]["responseCode"] == RC_HANDLE_NOT_FOUND
    assert [e["kind"] for e in body["events"]] == ["produced", "shipped"]
    status, body = await get(http, f"/api/trace/{BOARD}?direction=up")
    assert status == 200 and [n["handle"] for n in body["up"]["usedIn"]] == [TV]
    status, body = await get(http, "/api/trace/88.118.8/NOPE?direction=down")
    assert status == 404 and body["responseCode"] == RC_HANDLE_NOT_FOUND
    status, body = await get(http, "/api/trace/88.118.8/NOPE?direction=up")
    assert status == 200 and body["up"] == {"handle": "88.118.8/NOPE", "usedIn": []}
    for query in ("depth=x", "depth=-1", "direction=left"):
        status, body = await get(http, f"/api/trace/{TV}?{query}")
        assert status == 400 and body["responseCode"] == RC_PROTOCOL_ERROR


def body_name(answer: tuple[int, Any]) -> str:
    """The name of the first part in a trace answer."""
    return str(answer[1]["down"]["children"][0]["name"])


async def test_the_trace_page_renders(http: aiohttp.ClientSession) -> None:
    status, (text, headers) = await get(http, f"/trace/{TV}")
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    assert 'id="parts"' in text and 'id="where-used"' in text and 'id="timeline"' in text
    assert f'href="/trace/{BOARD}"' in text and "component@1" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text and "<script>" not in text
    assert "88.118.8/&lt;gone&gt;" in text and "unreachable" in text
    assert text.index("produced") < text.index("shipped")
    assert "<strong>PCB-TV-2201 control_board</strong>" in text   # parts by name
    down = await get(http, f"/api/trace/{TV}?direction=down")
    assert body_name(down) == "PCB-TV-2201 control_board"
    status, (text, _headers) = await get(http, f"/trace/{BOARD}?direction=up")
    assert "contains it as component" in text                  # where-used says who contains it
    status, (text, _headers) = await get(http, "/trace/88.118.8/NOPE")
    assert status == 404 and "未找到该标识" in text        # worded as /88.118.8/NOPE is
    status, (text, _headers) = await get(http, f"/trace/{TV}?depth=many")
    assert status == 400


async def test_a_bad_registration_over_rest_names_field_and_rule(
    http: aiohttp.ClientSession,
) -> None:
    values = templated("appliance.product@1", appliance(energy_grade="Z"))
    body = {"values": [value_to_json(v) for v in values]}
    headers = {"Authorization": basic(ADMIN_ID, SECRET)}
    async with http.put("/api/handles/88.118.8/TV-10", json=body, headers=headers) as response:
        answer = await response.json()
    assert response.status == 400 and answer["responseCode"] == RC_INVALID_VALUE
    assert "/energy_grade: 'Z' is not one of" in answer["message"]
    assert "(enum)" in answer["message"]
