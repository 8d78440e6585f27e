"""QR codes of product pages: decodable to the page URL, bounded options, only for real handles."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
import zxingcpp
from PIL import Image

from registry.store import HandleStore
from resolver.http.qr import QUIET_ZONE, QrOptions, qr_code
from tests.resolver.http.test_rest_harness import TV, Served, serve


def decoded(png: bytes) -> tuple[str, str]:
    """(text, error-correction level) a real QR reader gets from ``png``."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1
    return found[0].text, found[0].ec_level


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Served]:
    async with serve(database, public_url="https://id.example.cn") as served:
        yield served


async def test_png_decodes_to_the_configured_page_url(node: Served) -> None:
    async with aiohttp.ClientSession(node.url) as http, \
            http.get(f"/{TV}/qr.png", params={"level": "q"}) as response:
        assert response.status == 200 and response.content_type == "image/png"
        png = await response.read()
    assert decoded(png) == (f"https://id.example.cn/{TV}", "Q")


async def test_svg_keeps_the_quiet_zone(node: Served) -> None:
    async with aiohttp.ClientSession(node.url) as http, \
            http.get(f"/{TV}/qr.svg", params={"scale": "3"}) as response:
        assert response.status == 200 and response.content_type == "image/svg+xml"
        svg = await response.text()
    assert svg.startswith("<svg") and f"https://id.example.cn/{TV}" in svg
    # segno draws modules from the border on: the first path starts QUIET_ZONE modules in
    assert f'd="M{QUIET_ZONE} {QUIET_ZONE}' in svg.replace(".5", "")


@pytest.mark.parametrize(("path", "status"), [
    (f"/{TV}/qr.svg?scale=0", 400), (f"/{TV}/qr.svg?scale=41", 400),
    (f"/{TV}/qr.svg?scale=x", 400), (f"/{TV}/qr.svg?level=Z", 400),
    ("/88.118.8/NOPE/qr.svg", 404),
])
async def test_bad_requests_and_unknown_handles(node: Served, path: str, status: int) -> None:
    async with aiohttp.ClientSession(node.url) as http, http.get(path) as response:
        assert response.status == status


def test_level_h_survives_damage() -> None:
    png = qr_code("http://127.0.0.1:8000/88.118.8/TV-0001", QrOptions("png", 6, "H"))
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    # blank a block in the middle (about 10 % of the symbol's area)
    image.paste(255, (int(width * 0.42), int(height * 0.42), int(width * 0.58), int(height * 0.58)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert decoded(out.getvalue())[0] == "http://127.0.0.1:8000/88.118.8/TV-0001"
