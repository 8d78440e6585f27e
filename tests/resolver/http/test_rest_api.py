"""REST JSON API against a live server on a real store: statuses and responseCodes as CNRI's."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import (
    ADMIN_ID,
    NA,
    PREFIX,
    SECRET,
    TV,
    TV_URL,
    USER,
    USER_SECRET,
    Served,
    basic,
    serve,
)

ADMIN = {"Authorization": basic(ADMIN_ID, SECRET)}


@pytest.fixture
async def node(database: HandleStore, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(database, tmp_path) as served:
        yield served


@pytest.fixture
async def http(node: Served) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=False)
    async with aiohttp.ClientSession(node.url, connector=connector) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, path, **kwargs) as response:
        body = await response.json(content_type=None)
        assert response.content_type == "application/json"
        return response.status, body


async def test_resolution(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", f"/api/handles/{TV}")
    assert status == 200
    assert body["responseCode"] == 1 and body["handle"] == TV
    by_index = {v["index"]: v for v in body["values"]}
    assert by_index[1]["type"] == "URL"
    assert by_index[1]["data"] == {"format": "string", "value": TV_URL}
    assert by_index[1]["ttl"] == 86400
    assert by_index[1]["timestamp"].endswith("Z")
    assert by_index[100]["data"]["format"] == "admin"

    status, body = await call(http, "GET", f"/api/handles/{TV}?type=URL&type=EMAIL")
    assert status == 200 and sorted(v["index"] for v in body["values"]) == [1, 2]
    status, body = await call(http, "GET", f"/api/handles/{TV}?index=2")
    assert [v["type"] for v in body["values"]] == ["EMAIL"]
    # the slash may come percent-encoded, and the name is case-insensitive
    status, body = await call(http, "GET", "/api/handles/88.118.8%2Ftv-0001?index=1")
    assert status == 200 and body["values"][0]["index"] == 1

    status, body = await call(http, "GET", f"/api/handles/{TV}?type=NOPE")
    assert (status, body) == (200, {"responseCode": 200, "handle": TV, "values": []})
    status, body = await call(http, "GET", f"/api/handles/{PREFIX}/missing")
    assert (status, body) == (404, {"responseCode": 100, "handle": f"{PREFIX}/missing"})
    status, body = await call(http, "GET", f"/api/handles/{TV}?index=one")
    assert status == 400 and body["responseCode"] == 4
    status, body = await call(http, "GET", "/api/handles/no-slash")
    assert status == 400 and body["responseCode"] == 102
    status, body = await call(http, "GET", "/api/handles/")
    assert status == 400 and body["responseCode"] == 102


async def test_restricted_values_need_a_reader(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", f"/api/handles/{NA}?type=HS_SECKEY")
    assert (status, body["responseCode"], body["values"]) == (200, 200, [])
    status, body = await call(http, "GET", f"/api/handles/{NA}?type=HS_SECKEY", headers=ADMIN)
    assert status == 200 and [v["index"] for v in body["values"]] == [300]
    assert body["values"][0]["permissions"] == "1100"
    status, body = await call(
        http, "GET", f"/api/handles/{NA}?type=HS_SECKEY&publicOnly=true", headers=ADMIN
    )
    assert body["values"] == []


async def test_create_replace_and_delete(http: aiohttp.ClientSession) -> None:
    handle = f"{PREFIX}/crud-1"
    record = {"values": [{"index": 1, "type": "URL", "data": "https://example.org/1"}]}
    status, body = await call(
        http, "PUT", f"/api/handles/{handle}?overwrite=false", json=record, headers=ADMIN
    )
    assert (status, body) == (201, {"responseCode": 1, "handle": handle})
    status, body = await call(
        http, "PUT", f"/api/handles/{handle}?overwrite=false", json=record, headers=ADMIN
    )
    assert status == 409 and body["responseCode"] == 101

    replaced = {
        "handle": handle,
        "values": [
            {"index": 1, "type": "URL",
             "data": {"format": "string", "value": "https://example.org/2"}},
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": NA, "index": 300, "permissions": "011111111111"}}},
        ],
    }
    status, body = await call(http, "PUT", f"/api/handles/{handle}", json=replaced, headers=ADMIN)
    assert (status, body) == (200, {"responseCode": 1, "handle": handle})
    status, body = await call(http, "GET", f"/api/handles/{handle}")
    assert {v["index"]: v["data"]["value"] for v in body["values"]}[1] == "https://example.org/2"

    status, body = await call(
        http, "PUT", f"/api/handles/{PREFIX}/other", json=replaced, headers=ADMIN
    )
    assert status == 400 and body["responseCode"] == 4  # mismatched handle in the body
    status, body = await call(
        http, "PUT", f"/api/handles/{handle}", data=b"{nope", headers={
            **ADMIN, "Content-Type": "application/json"})
    assert status == 400 and body["responseCode"] == 4
    status, body = await call(
        http, "PUT", f"/api/handles/{handle}", data=b"[]", headers={
            **ADMIN, "Content-Type": "text/plain"})
    assert status == 400 and body["responseCode"] == 4

    status, body = await call(http, "DELETE", f"/api/handles/{handle}", headers=ADMIN)
    assert (status, body) == (200, {"responseCode": 1, "handle": handle})
    status, body = await call(http, "GET", f"/api/handles/{handle}")
    assert status == 404 and body["responseCode"] == 100
    status, body = await call(http, "DELETE", f"/api/handles/{handle}", headers=ADMIN)
    assert status == 404 and body["responseCode"] == 100


async def test_values_add_modify_remove(http: aiohttp.ClientSession) -> None:
    email = {"index": 2, "type": "EMAIL", "data": "sales@example.org"}
    path = f"/api/handles/{TV}"
    status, body = await call(http, "PUT", f"{path}?index=4&overwrite=false", json=[
        {"index": 4, "type": "NOTE", "data": "new"}], headers=ADMIN)
    assert (status, body) == (201, {"responseCode": 1, "handle": TV})
    status, body = await call(
        http, "PUT", f"{path}?index=2&overwrite=false", json=email, headers=ADMIN
    )
    assert status == 409 and body["responseCode"] == 201
    status, body = await call(http, "PUT", f"{path}?index=2", json=email, headers=ADMIN)
    assert (status, body) == (200, {"responseCode": 1, "handle": TV})
    status, body = await call(http, "PUT", f"{path}?index=2&index=5", json=[
        email, {"index": 5, "type": "NOTE", "data": "five"}], headers=ADMIN)
    assert status == 200
    status, body = await call(http, "PUT", f"{path}?index=various", json=[
        {"index": 6, "type": "NOTE", "data": "six"}], headers=ADMIN)
    assert status == 201
    status, body = await call(http, "PUT", f"{path}?index=7", json=[
        {"index": 8, "type": "NOTE", "data": "x"}], headers=ADMIN)
    assert status == 400 and body["responseCode"] == 4  # mismatched indexes

    status, body = await call(http, "GET", path)
    values = {v["index"]: v["data"]["value"] for v in body["values"]}
    assert values[2] == "sales@example.org" and values[4] == "new" and values[6] == "six"

    status, body = await call(http, "DELETE", f"{path}?index=4&index=5", headers=ADMIN)
    assert (status, body) == (200, {"responseCode": 1, "handle": TV})
    status, body = await call(http, "DELETE", f"{path}?index=4", headers=ADMIN)
    assert status == 400 and body["responseCode"] == 200
    status, body = await call(http, "PUT", f"/api/handles/{PREFIX}/ghost?index=1", json=[
        {"index": 1, "type": "URL", "data": "https://example.org"}], headers=ADMIN)
    assert status == 404 and body["responseCode"] == 100


async def test_mint_new_suffix(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "PUT", f"/api/handles/{PREFIX}/?mintNewSuffix=true", json=[
        {"index": 1, "type": "URL", "data": "https://example.org/minted"}], headers=ADMIN)
    assert status == 201 and body["responseCode"] == 1
    minted = body["handle"]
    assert minted.startswith(f"{PREFIX}/") and len(minted) == len(PREFIX) + 1 + 36
    status, body = await call(http, "GET", f"/api/handles/{minted}")
    assert status == 200


async def test_listing(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", f"/api/handles?prefix={PREFIX}", headers=ADMIN)
    assert status == 200
    assert body == {
        "responseCode": 1, "prefix": PREFIX, "totalCount": "2", "handles": [TV, USER],
    }
    status, body = await call(
        http, "GET", f"/api/handles?prefix={NA}&page=1&pageSize=1", headers=ADMIN
    )
    assert status == 200 and body["totalCount"] == "2"
    assert body["page"] == 1 and body["pageSize"] == 1 and len(body["handles"]) == 1

    status, body = await call(http, "GET", f"/api/handles?prefix={PREFIX}")
    assert status == 401 and body["responseCode"] == 402
    status, body = await call(http, "GET", f"/api/handles?prefix={PREFIX}", headers={
        "Authorization": basic(f"300:{USER}", USER_SECRET)})
    assert status == 403 and body["responseCode"] == 401
    status, body = await call(http, "GET", f"/api/handles?prefix={PREFIX}&page=x", headers=ADMIN)
    assert status == 400 and body["responseCode"] == 4


async def test_auth_refusals(http: aiohttp.ClientSession) -> None:
    record = [{"index": 1, "type": "URL", "data": "https://example.org/x"}]
    path = f"/api/handles/{PREFIX}/refused"
    async with http.put(path, json=record) as response:
        assert response.status == 401
        assert (await response.json())["responseCode"] == 402
        challenges = response.headers.getall("WWW-Authenticate")
        assert 'Basic realm="handle"' in challenges
        assert any(c.startswith("Handle sessionId=") and "nonce=" in c for c in challenges)

    status, body = await call(http, "PUT", path, json=record, headers={
        "Authorization": basic(ADMIN_ID, "wrong")})
    assert status == 401 and body["responseCode"] == 403
    assert body["message"] == f"authentication failed: identity {ADMIN_ID} not verified"
    # curl -u "300:0.NA/...:SECRET" without URL-encoding: the user is the index alone
    unencoded = base64.b64encode(f"{ADMIN_ID}:{SECRET}".encode()).decode()
    status, body = await call(http, "PUT", path, json=record, headers={
        "Authorization": f"Basic {unencoded}"})
    assert status == 401 and body["responseCode"] == 403
    assert "Basic user '300' is not INDEX:HANDLE: URL-encode it" in body["message"], body
    status, body = await call(http, "DELETE", f"/api/handles/{TV}", headers={
        "Authorization": basic("300:0.NA/88.118.999", SECRET)})
    assert status == 401 and body["responseCode"] == 403
    status, body = await call(http, "PUT", path, json=record, headers={
        "Authorization": "Bearer abc"})
    assert status == 401

    status, body = await call(http, "PUT", path, json=record, headers={
        "Authorization": basic(f"300:{USER}", USER_SECRET)})
    assert status == 403 and body["responseCode"] == 401
    status, body = await call(http, "DELETE", f"/api/handles/{TV}", headers={
        "Authorization": basic(f"300:{USER}", USER_SECRET)})
    assert status == 403 and body["responseCode"] == 401
    status, body = await call(http, "GET", f"/api/handles/{TV}")
    assert status == 200  # nothing above changed it


async def test_credentials_need_tls(database: HandleStore) -> None:
    async with serve(database) as node, aiohttp.ClientSession(node.url) as http:
        status, body = await call(
            http, "PUT", f"/api/handles/{PREFIX}/plain", headers=ADMIN,
            json=[{"index": 1, "type": "URL", "data": "https://example.org"}],
        )
        assert status == 403 and body["responseCode"] == 402
        assert "only over HTTPS" in body["message"]  # the credentials were not just dropped
        async with http.post("/api/sessions") as response:
            assert response.status == 403
            assert "only over HTTPS" in await response.text()
        status, body = await call(http, "GET", f"/api/handles/{TV}")
        assert status == 200


async def test_unknown_endpoints_and_jsonp(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/nothing")
    assert status == 404 and body["responseCode"] == 4
    status, body = await call(http, "PATCH", f"/api/handles/{TV}")
    assert status == 405 and body["responseCode"] == 4  # POST is a GET (test_rest_site_prefixes)
    status, body = await call(http, "GET", "/api/handlesx")
    assert status == 404 and body["responseCode"] == 4
    async with http.get(f"/api/handles/{TV}?index=1&callback=show<me>") as response:
        assert response.content_type == "application/javascript"
        text = await response.text()
    assert text.startswith("show_me_(") and text.endswith(");")
    async with http.get(f"/api/handles/{TV}", headers={"Origin": "https://x.example"}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_metrics_count_requests(http: aiohttp.ClientSession, node: Served) -> None:
    await call(http, "GET", f"/api/handles/{TV}")
    await call(http, "GET", f"/api/handles/{PREFIX}/missing")
    node.metrics.cache_hit("memory")
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    assert 'idnode_requests_total{frontend="rest",response_code="1"} 1' in text
    assert 'idnode_requests_total{frontend="rest",response_code="100"} 1' in text
    assert 'idnode_request_duration_seconds_count{frontend="rest"} 2' in text
    assert 'idnode_cache_hits_total{layer="memory"} 1' in text
    assert "idnode_store_handles 3" in text
    async with http.get("/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"status": "ok"}


async def test_put_with_indexes_is_one_write(http: aiohttp.ClientSession, node: Served) -> None:
    store = node.service.store
    before = await store.get_handle(TV)
    assert before is not None and 2 in {v.index for v in before.values}
    seen = len(await store.audit_entries(handle=TV, limit=1000))
    status, _body = await call(http, "PUT", f"/api/handles/{TV}?index=2&index=9", json=[
        {"index": 2, "type": "EMAIL", "data": "new@example.org"},
        {"index": 9, "type": "NOTE", "data": "added"}], headers=ADMIN)
    assert status == 200  # index 2 modified, index 9 added: one version, one audit entry
    after = await store.get_handle(TV)
    assert after is not None and after.version == before.version + 1
    entries = await store.audit_entries(handle=TV, limit=1000)
    assert [e.action for e in entries[seen:]] == ["upsert_values"]


async def test_put_with_indexes_is_atomic_under_concurrent_writers(
    http: aiohttp.ClientSession, node: Served
) -> None:
    writers = 8
    before = await node.service.store.get_handle(TV)
    assert before is not None

    async def write(n: int) -> tuple[int, dict[str, Any]]:
        return await call(http, "PUT", f"/api/handles/{TV}?index=2&index=9", json=[
            {"index": 2, "type": "EMAIL", "data": f"writer-{n}"},
            {"index": 9, "type": "NOTE", "data": f"writer-{n}"}], headers=ADMIN)

    answers = await asyncio.gather(*(write(n) for n in range(writers)))
    assert all(status == 200 for status, _body in answers), answers
    after = await node.service.store.get_handle(TV)
    assert after is not None and after.version == before.version + writers
    written = {v.index: v.data for v in after.values if v.index in (2, 9)}
    assert written[2] == written[9]  # both values from the same writer, never a mix
