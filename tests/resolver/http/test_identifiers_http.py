"""GS1 Digital Link paths and /api/resolve land on the record of the handle carrying the code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from protocol.values import HandleValue
from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import PREFIX, Served, serve

ITEM = f"{PREFIX}/FRIDGE-7"


@pytest.fixture
async def http(database: HandleStore) -> AsyncIterator[aiohttp.ClientSession]:
    await database.create_handle(ITEM, [
        HandleValue(1, "URL", b"https://example.org/fridge-7"),
        HandleValue(2, "ID.GS1", b"(01)06901234567892(21)F7"),
        HandleValue(3, "ID.OID", b"urn:oid:1.2.156.3001.7"),
        HandleValue(4, "ID.ECODE", b"ecode:1000100000000000000000007"),
        HandleValue(5, "ID.OID", b"urn:oid:1.2.156.3001.8", public_read=False),
    ], actor="test")
    served: Served
    async with serve(database) as served, aiohttp.ClientSession(served.url) as session:
        yield session


async def _get(http: aiohttp.ClientSession, path: str, **params: str) -> tuple[int, dict, str]:
    async with http.get(path, params=params or None, allow_redirects=False) as response:
        return response.status, await response.json(), response.headers.get("Location", "")


async def test_a_digital_link_redirects_to_the_product_page(
    http: aiohttp.ClientSession,
) -> None:
    status, body, location = await _get(http, "/01/06901234567892/21/F7")
    assert status == 302 and location == f"/{ITEM}"
    assert body["handle"] == ITEM
    assert body["identifier"]["key"] == "gs1:01/06901234567892/21/F7"
    # data attributes are not part of the key; the query string goes along
    status, _, location = await _get(http, "/01/6901234567892/21/F7", **{"17": "270101"})
    assert status == 302 and location == f"/{ITEM}?17=270101"
    # the page it lands on is the handle's page
    async with http.get(location, allow_redirects=False) as page:
        assert page.status == 302 and page.headers["Location"] == "https://example.org/fridge-7"


@pytest.mark.parametrize("text", [
    "(01)06901234567892(21)F7", "urn:epc:id:sgtin:6901234.056789.F7",
    "https://id.gs1.org/01/06901234567892/21/F7", "1.2.156.3001.7",
    "Ecode 1 0001 0000 0000 0000 0000 0007", "urn:ecode:1000100000000000000000007",
])
async def test_api_resolve_takes_any_spelling(http: aiohttp.ClientSession, text: str) -> None:
    status, body, location = await _get(http, "/api/resolve", id=text)
    assert (status, body["handle"], location) == (302, ITEM, f"/api/handles/{ITEM}")
    async with http.get("/api/resolve", params={"id": text}) as followed:
        record = await followed.json()
    assert record["handle"] == ITEM and record["responseCode"] == 1


@pytest.mark.parametrize(("path", "params", "reason"), [
    ("/01/06901234567893/21/F7", {}, "check digit"),
    ("/01/06901234567892/99/F7", {}, "Digital Link"),
    ("/api/resolve", {"id": "(99X)1"}, "element string"),
    ("/api/resolve", {"id": "oid:1.45.1"}, "below 40"),
    ("/api/resolve", {"id": "ecode:70001123"}, "reserved"),
    ("/api/resolve", {"id": "ecode:1 0001 12AB"}, "decimal digits"),
    ("/api/resolve", {}, "empty"),
])
async def test_malformed_codes_are_400_with_the_reason(
    http: aiohttp.ClientSession, path: str, params: dict[str, str], reason: str
) -> None:
    status, body, _ = await _get(http, path, **params)
    assert status == 400 and reason in body["message"]


async def test_a_code_no_record_carries_is_404(http: aiohttp.ClientSession) -> None:
    status, body, _ = await _get(http, "/01/96385074")
    assert status == 404 and body["responseCode"] == 100
    assert "GS1 01/00000096385074" in body["message"]


async def test_a_restricted_code_is_not_found(http: aiohttp.ClientSession) -> None:
    """An ID.* value without public read (owner or partners tier) leaks no binding."""
    status, body, location = await _get(http, "/api/resolve", id="urn:oid:1.2.156.3001.8")
    assert (status, location) == (404, "") and ITEM not in str(body)
