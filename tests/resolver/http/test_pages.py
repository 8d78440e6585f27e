"""Proxy pages: redirect to the first URL, values page, home page and its resolve box."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from protocol.values import HandleValue
from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import PREFIX, TV, TV_URL, USER, Served, serve

EVIL = f"{PREFIX}/evil"


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Served]:
    await database.create_handle(EVIL, [
        HandleValue(1, "URL", b"javascript:alert(1)"),
        HandleValue(2, "URL", b"https://example.org/a\r\nSet-Cookie: x=1"),
        HandleValue(3, "NOTE", b'<script>alert("x")</script>'),
    ], actor="test")
    async with serve(database) as served:
        yield served


@pytest.fixture
async def http(node: Served) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(node.url) as session:
        yield session


async def page(http: aiohttp.ClientSession, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
    async with http.get(path, allow_redirects=False) as response:
        return response.status, await response.text(), response


async def test_redirects_to_the_first_url(http: aiohttp.ClientSession) -> None:
    status, _, response = await page(http, f"/{TV}")
    assert status == 302 and response.headers["Location"] == TV_URL
    status, _, response = await page(http, "/88.118.8%2Ftv-0001")
    assert status == 302 and response.headers["Location"] == TV_URL


async def test_values_page(http: aiohttp.ClientSession) -> None:
    status, text, response = await page(http, f"/{TV}?noredirect")
    assert status == 200 and response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert f'<span id="handle">{TV}</span>' in text
    assert f'<a href="{TV_URL}" rel="nofollow noopener">{TV_URL}</a>' in text
    assert "&lt;b&gt;Smart TV&lt;/b&gt; &amp; remote" in text and "<b>Smart" not in text
    assert "ops@example.org" in text
    assert "handle=0.NA/88.118.8 index=300" in text
    assert "http://" not in text.replace(TV_URL, "")  # nothing loaded from elsewhere


async def test_handle_without_url_shows_values(http: aiohttp.ClientSession) -> None:
    status, text, _ = await page(http, f"/{USER}")
    assert status == 200 and "HS_ADMIN" in text
    assert "HS_SECKEY" not in text  # not publicly readable


async def test_unsafe_urls_are_not_followed_or_linked(http: aiohttp.ClientSession) -> None:
    status, text, _ = await page(http, f"/{EVIL}")
    assert status == 200
    assert "<script>" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert 'href="javascript' not in text


async def test_not_found_and_invalid(http: aiohttp.ClientSession) -> None:
    status, text, _ = await page(http, f"/{PREFIX}/missing")
    assert status == 404 and "未找到该标识" in text and f"{PREFIX}/missing" in text
    status, text, _ = await page(http, f"/{PREFIX}/missing?lang=en")
    assert status == 404 and "Identifier not found" in text
    status, text, _ = await page(http, "/favicon.ico")
    assert status == 400 and "Resolution error" in text


async def test_home_page_and_resolve_box(http: aiohttp.ClientSession, node: Served) -> None:
    status, text, _ = await page(http, "/")
    assert status == 200 and 'id="resolve"' in text and 'name="hdl"' in text
    status, _, response = await page(http, f"/?hdl={TV}&noredirect=on")
    assert status == 302 and response.headers["Location"] == f"/{TV}?noredirect"
    status, _, response = await page(http, "/?hdl=hdl:88.118.8/a%20b")
    assert status == 302 and response.headers["Location"] == f"/{PREFIX}/a%20b"
    assert node.metrics.request_count("http", 1) >= 2


@pytest.mark.parametrize(
    "wanted", ["/evil.example", "//evil.example", "hdl://evil.example/x", "/\\evil.example",
               "%2F%2Fevil.example", " /evil.example/p"],
)
async def test_resolve_box_never_redirects_off_the_node(
    http: aiohttp.ClientSession, wanted: str
) -> None:
    """Issue 18 F10: ``/?hdl=/evil.example`` answered ``Location: //evil.example``."""
    status, _, response = await page(http, f"/?hdl={wanted}")
    location = response.headers["Location"]
    assert status == 302 and location.startswith("/") and not location.startswith("//")
    assert "\\" not in location and URL(location).host is None
    assert URL(f"https://node.example{location}").host == "node.example"


async def test_failures_answer_500_without_details(sqlite_url: str, tmp_path: Path) -> None:
    store = await HandleStore.open(sqlite_url)
    async with serve(store) as node, aiohttp.ClientSession(node.url) as http:
        await store.close()
        (tmp_path / "registry.db").unlink()  # the next query finds no tables
        status, text, response = await page(http, f"/{TV}")
        assert status == 500 and response.content_type == "text/html"
        assert "Server error" in text and "Traceback" not in text and "sqlite" not in text
        async with http.get(f"/api/handles/{TV}") as response:
            assert response.status == 500
            assert await response.json() == {"responseCode": 2, "message": "Internal error"}
