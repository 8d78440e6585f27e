"""REST completeness as CNRI HANDLE.NET 9 (doc/REST-API.txt and its servlets): /api/site,
/api/prefixes, POST-as-GET on /api/handles, ?pretty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from registry.store import HandleStore
from resolver.core.site import build_site_info, site_info_value
from tests.resolver.http import test_rest_harness as harness
from tests.resolver.http.test_rest_api import ADMIN, call
from tests.resolver.http.test_rest_harness import Served, basic, serve

NA, PREFIX, TV, TV_URL = harness.NA, harness.PREFIX, harness.TV, harness.TV_URL
USER, USER_SECRET = harness.USER, harness.USER_SECRET


@pytest.fixture
async def node(database: HandleStore, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(database, tmp_path) as served:
        served.service.server_admins = ((NA, 300),)
        served.service.site_info = site_info_value(
            build_site_info([("127.0.0.1", 2641)], http_port=8000, description="test site"))
        yield served


@pytest.fixture
async def http(node: Served) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(node.url, connector=aiohttp.TCPConnector(ssl=False)) as s:
        yield s


async def test_site(http: aiohttp.ClientSession) -> None:
    for path in ("/api/site", "/api/site/"):
        status, body = await call(http, "GET", path)
        assert status == 200 and body["responseCode"] == 1
        site = body["site"]
        assert site["protocolVersion"] == "2.11" and site["primarySite"] is True
        assert site["attributes"] == [{"name": "desc", "value": "test site"}]
        protocols = {i["protocol"]: i["port"] for i in site["servers"][0]["interfaces"]}
        assert protocols == {"TCP": 2641, "UDP": 2641, "HTTP": 8000}
    async with http.get("/api/site?pretty") as response:
        text = await response.text()
    assert text.startswith('{\n  "responseCode": 1,')


async def test_prefixes_home_list_unhome(http: aiohttp.ClientSession, node: Served) -> None:
    status, body = await call(http, "POST", "/api/prefixes/88.118.20", headers=ADMIN)
    assert (status, body["responseCode"]) == (200, 1)
    status, body = await call(http, "POST", "/api/prefixes", json={"prefix": "0.NA/88.118.21"},
                              headers=ADMIN)
    assert status == 200, body
    status, body = await call(http, "GET", "/api/prefixes", headers=ADMIN)
    assert status == 200
    assert body == {"responseCode": 1, "totalCount": "2",
                    "prefixes": ["0.NA/88.118.20", "0.NA/88.118.21"]}
    status, body = await call(http, "GET", "/api/prefixes?page=1&pageSize=1", headers=ADMIN)
    assert body["prefixes"] == ["0.NA/88.118.21"] and body["totalCount"] == "2"
    status, body = await call(http, "DELETE", "/api/prefixes/0.NA%2F88.118.20", headers=ADMIN)
    assert status == 200
    assert await node.service.store.get_prefix("88.118.20") is None


async def test_prefixes_refusals(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/prefixes")
    assert status == 401 and body["responseCode"] == 402
    user = {"Authorization": basic(f"300:{USER}", USER_SECRET)}
    status, body = await call(http, "POST", "/api/prefixes/88.118.20", headers=user)
    assert status == 403 and body["responseCode"] == 401
    status, body = await call(http, "DELETE", f"/api/prefixes/{PREFIX}", headers=ADMIN)
    assert status == 501  # the node's own prefix
    status, body = await call(http, "POST", "/api/prefixes/", headers=ADMIN)
    assert body["message"] == "Prefix not specified in homing request"
    async with http.get("/api/prefixes/88.118.20", headers=ADMIN) as response:
        assert response.status == 405 and response.headers["Allow"].startswith("POST")


async def test_post_is_get(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", f"/api/handles/{TV}", data={"type": "URL"})
    assert status == 200
    assert [v["data"]["value"] for v in body["values"]] == [TV_URL]
    status, body = await call(http, "POST", f"/api/handles/{TV}", json={"index": [1, 2]})
    assert [v["index"] for v in body["values"]] == [1]
    status, body = await call(http, "POST", f"/api/handles/{TV}?type=EMAIL", json={"type": "URL"})
    assert {v["type"] for v in body.get("values", [])} <= {"EMAIL"}  # the query string wins
    status, body = await call(http, "POST", "/api/handles", json={"prefix": PREFIX},
                              headers=ADMIN)
    assert status == 200 and TV in body["handles"]
    status, body = await call(http, "POST", f"/api/handles/{TV}", data=b"[1]",
                              headers={"Content-Type": "application/json"})
    assert status == 400 and body["responseCode"] == 4
