"""F5b and F11 (issue 18): secrets written over REST stay admin-only, and no
authenticated answer is served as JSONP (another web page could read it)."""

from __future__ import annotations

import aiohttp
import pytest

from protocol.rest_json import value_from_json
from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import ADMIN_ID, NA, SECRET, basic

ADMIN = {"Authorization": basic(ADMIN_ID, SECRET)}
SECKEY_JSON = {"index": 310, "type": "HS_SECKEY", "data": {"format": "string", "value": "s3"}}


def test_rest_json_secret_key_without_permissions_is_admin_only() -> None:
    value = value_from_json(SECKEY_JSON)
    assert (value.admin_read, value.admin_write, value.public_read) == (True, True, False)
    explicit = value_from_json(SECKEY_JSON | {"permissions": "1110"})
    assert explicit.public_read  # said so explicitly: kept
    assert value_from_json({**SECKEY_JSON, "type": "URL"}).public_read


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_secret_key_put_without_permissions_is_not_public(
    rest: aiohttp.ClientSession, database: HandleStore
) -> None:
    async with rest.put(f"/api/handles/{NA}?index=310", json={"values": [SECKEY_JSON]},
                        headers=ADMIN) as response:
        assert response.status in (200, 201), await response.text()
    stored = await database.get_handle(NA, indexes=[310])
    assert stored is not None and not stored.values[0].public_read
    async with rest.get(f"/api/handles/{NA}?index=310") as response:
        body = await response.json()
    assert "s3" not in str(body) and not body.get("values")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_no_jsonp_on_authenticated_requests(rest: aiohttp.ClientSession) -> None:
    async with rest.get(f"/api/handles/{NA}?callback=steal", headers=ADMIN) as response:
        assert response.content_type == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        text = await response.text()
    assert not text.startswith("steal")
    # a script tag never gets a Basic prompt (the browser would then send the credentials)
    async with rest.post(f"/api/handles/{NA}/x?callback=steal") as response:
        pass
    async with rest.delete(f"/api/handles/{NA}?callback=steal") as response:
        assert response.status == 401
        challenges = response.headers.getall("WWW-Authenticate", [])
    assert challenges and not any(c.startswith("Basic") for c in challenges)
    # anonymous JSONP of public data stays available
    async with rest.get(f"/api/handles/{NA}?index=100&callback=show") as response:
        assert response.content_type == "application/javascript"
        assert (await response.text()).startswith("show(")
