"""Kept REST bodies: byte-identical to fresh ones, with an ETag and 304, never for
parameterised or authenticated reads, dropped by a write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.model import Caller
from resolver.core.service import ResolutionService
from resolver.core.stack import ResolutionStack
from resolver.http.api import run_http_server
from tests.resolver.http.test_rest_harness import NA, TV, seed

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@dataclass
class Pair:
    cached: str
    uncached: str
    service: ResolutionService
    resolutions: list[str]


def counted_resolutions(service: ResolutionService) -> list[str]:
    """The handles ``service`` resolves from now on (a list it keeps appending to)."""
    resolutions: list[str] = []
    resolve = service.resolve

    async def counting(handle: str, **options: object) -> object:
        resolutions.append(handle)
        return await resolve(handle, **options)  # type: ignore[arg-type]

    service.resolve = counting  # type: ignore[assignment,method-assign]
    return resolutions


@pytest.fixture
async def pair(database: HandleStore) -> AsyncIterator[Pair]:
    await seed(database)
    service = ResolutionService(database, server_admins=[(NA, 300)],
                                answers=ResolutionStack(database))
    resolutions = counted_resolutions(service)
    runners: list[web.AppRunner] = []
    urls = []
    for one in (service, ResolutionService(database)):
        runner, port = await run_http_server(one, "127.0.0.1", 0)
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        yield Pair(urls[0], urls[1], service, resolutions)
    finally:
        for runner in runners:
            await runner.cleanup()


async def get(base: str, path: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession(base) as http, http.get(path, headers=headers) as response:
        body = await response.read()
        kept = ("Content-Type", "ETag", "X-Content-Type-Options", "Content-Length")
        return response.status, body, {h: response.headers.get(h, "") for h in kept}


async def test_a_kept_body_is_byte_identical_to_a_fresh_one(pair: Pair) -> None:
    path = f"/api/handles/{TV}"
    for _ in range(2):  # fills the cache, then keeps the body
        await get(pair.cached, path)
    assert pair.resolutions == [TV, TV]
    kept = await get(pair.cached, path)
    assert pair.resolutions == [TV, TV]  # answered without resolving
    fresh = await get(pair.uncached, path)
    assert kept == fresh and kept[0] == 200 and kept[2]["ETag"].startswith('"')


async def test_the_etag_gets_a_304(pair: Pair) -> None:
    path = f"/api/handles/{TV}"
    _, _, headers = await get(pair.cached, path)
    status, body, again = await get(pair.cached, path, **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b"" and again["ETag"] == headers["ETag"]
    status, body, _ = await get(pair.cached, path, **{"If-None-Match": '"other"'})
    assert status == 200 and body


async def test_parameters_and_credentials_are_never_answered_from_a_kept_body(
    pair: Pair
) -> None:
    for _ in range(3):
        await get(pair.cached, f"/api/handles/{TV}")
    before = len(pair.resolutions)
    await get(pair.cached, f"/api/handles/{TV}?type=URL")
    await get(pair.cached, f"/api/handles/{TV}", Authorization="Basic eDp5")
    assert len(pair.resolutions) == before + 2


async def test_a_write_drops_the_kept_body(pair: Pair) -> None:
    path = f"/api/handles/{TV}"
    for _ in range(3):
        _, old, headers = await get(pair.cached, path)
    await pair.service.modify_values(TV, [HandleValue(1, "URL", b"https://example.org/new")],
                                     caller=Caller(NA, 300))
    status, new, changed = await get(pair.cached, path)
    assert status == 200 and b"https://example.org/new" in new and new != old
    assert changed["ETag"] != headers["ETag"]
    assert (await get(pair.uncached, path))[1] == new
