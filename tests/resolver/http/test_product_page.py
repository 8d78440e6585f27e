"""The product page: browsers get it for templated records (zh-CN first), machines the redirect."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from babel.messages.pofile import read_po

from protocol.values import HandleValue
from registry.store import HandleStore
from registry.templates.display import describe
from resolver.http.product.render import LOCALE_DIR, render_product
from resolver.http.product.view import ProductView
from tests.resolver.core.test_trace_support import appliance, component, event, templated
from tests.resolver.http.test_browser import CHROMIUM, chromium, cjk_font  # noqa: F401 (fixtures)
from tests.resolver.http.test_rest_harness import Served, serve

PRODUCT = "88.118.8/TV-9"
BOARD = "88.118.8/CMP-9"
BATCH = "88.118.8/MB-PCB-9"
HTML = {"Accept": "text/html,application/xhtml+xml"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


async def _seed(store: HandleStore) -> None:
    await store.add_enterprise("HAIYUE", "青岛海悦家电有限公司", industry="appliance",
                               actor="test")
    await store.create_prefix("88.118.8", owner="HAIYUE", actor="test")
    await store.create_handle(BATCH, [HandleValue(1, "URL", b"https://example.org/b")],
                              actor="test")
    await store.create_handle(BOARD, templated("component@1", component(batches=[BATCH])),
                              actor="test")
    values = templated("appliance.product@1", appliance(product_name="海悦 65 英寸电视",
                                                       components=[BOARD]))
    values += [event(0, "produced", "2024-01-02T08:00:00Z"),
               event(1, "recalled", "2024-04-01T10:00:00Z", note="PCB 批次可能过热")]
    await store.create_handle(PRODUCT, values, actor="test")


LONG = "88.118.8/WM-LONG-1"
PARTS = 14          # boards under the washing machine, each with sub-parts and batches


async def _seed_long_tree(store: HandleStore) -> None:
    """A washing machine with 14 parts, each with 2 sub-parts and 2 material batches."""
    boards = []
    for n in range(PARTS):
        subs = []
        for k in range(2):
            sub = f"88.118.8/WM-SUB-{n:02d}-{k}"
            await store.create_handle(sub, templated("component@1", {
                **component(), "part_number": f"SUB-{n:02d}-{k}", "component_type": "sensor"}),
                actor="test")
            subs.append(sub)
        batches = []
        for k in range(2):
            batch = f"88.118.8/WM-BATCH-{n:02d}-{k}"
            await store.create_handle(batch, [HandleValue(1, "URL", b"https://example.org/b")],
                                      actor="test")
            batches.append(batch)
        board = f"88.118.8/WM-PART-{n:02d}"
        await store.create_handle(board, templated("component@1", {
            **component(components=subs, batches=batches), "part_number": f"WM-PART-{n:02d}",
            "component_type": ["motor", "drum", "control_board", "pump"][n % 4]}),
            actor="test")
        boards.append(board)
    values = templated("appliance.product@1", appliance(
        product_name="海悦 10 公斤滚筒洗衣机", model="XQG100-B14", category="washing_machine",
        serial="WM2405060000001", production_date="2024-05-06", components=boards))
    values += [event(0, "produced", "2024-05-06T08:00:00Z"),
               event(1, "shipped", "2024-05-09T14:00:00Z", place="Qingdao port"),
               event(2, "sold", "2024-06-01T10:30:00Z", place="Jinan, CN")]
    await store.create_handle(LONG, values, actor="test")


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Served]:
    async with serve(database) as served:
        await _seed(database)
        await _seed_long_tree(database)
        yield served


async def _get(node: Served, path: str, headers: dict[str, str] | None = None
               ) -> tuple[int, str, aiohttp.ClientResponse]:
    async with aiohttp.ClientSession(node.url) as http, \
            http.get(path, headers=headers, allow_redirects=False) as response:
        return response.status, await response.text(), response


async def test_browser_gets_the_product_page_in_chinese(node: Served) -> None:
    status, text, response = await _get(node, f"/{PRODUCT}", HTML)
    assert status == 200 and response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert '<html lang="zh-CN">' in text
    recall = text.index('id="recall"')
    assert recall < text.index('id="product"')          # the banner comes first
    assert "安全召回" in text and "PCB 批次可能过热" in text
    assert "海悦 65 英寸电视" in text and "青岛海悦家电有限公司" in text   # maker's registered name
    assert "PCB-TV-2201 control_board" in text           # parts by name
    assert "未签名" in text and "召回" in text and "生产" in text
    assert "http://" not in text and "https://" not in text   # nothing from elsewhere
    assert len(text.encode()) < 20_000


async def test_english_and_the_part_side(node: Served) -> None:
    status, text, response = await _get(node, f"/{PRODUCT}?lang=en", HTML)
    assert status == 200 and '<html lang="en">' in text and "Safety recall" in text
    assert "idnode_lang=en" in response.headers["Set-Cookie"]
    # the batch is no product (no template): the board is, and counts the TV as using it
    status, text, _ = await _get(node, f"/{BOARD}?lang=en", HTML)
    assert status == 200 and "1</span> finished product contains this" in text
    assert f"/api/trace/{BOARD}/affected?format=csv" in text


async def test_machines_keep_redirect_and_values(node: Served) -> None:
    status, _, response = await _get(node, f"/{PRODUCT}")        # Accept */*
    assert status == 302 and response.headers["Location"] == "https://example.org/p"
    status, text, _ = await _get(node, f"/{PRODUCT}?noredirect", HTML)
    assert status == 200 and "TRACE.DATA" in text                # the values page
    status, _, response = await _get(node, f"/{BATCH}", HTML)    # no template: as before
    assert status == 302


async def test_a_long_parts_tree_names_every_part(node: Served) -> None:
    status, text, _ = await _get(node, f"/{LONG}", HTML)
    assert status == 200 and "海悦 10 公斤滚筒洗衣机" in text and 'id="recall"' not in text
    for n in range(PARTS):
        assert f"WM-PART-{n:02d}" in text
    # sub-parts fold away under each part, so the parts list stays short to scan
    assert text.count("<details><summary>内含 4 个零部件或原材料</summary>") == PARTS
    assert len(text.encode()) < 60_000


async def test_not_found_reads_the_same_on_both_pages(node: Served) -> None:
    for path in ("/88.118.8/NOPE", "/trace/88.118.8/NOPE"):
        status, text, _ = await _get(node, path, HTML)
        assert status == 404 and "88.118.8/NOPE" in text, path
        assert "未找到该标识" in text and '<html lang="zh-CN">' in text, path
        status, text, _ = await _get(node, path + "?lang=en", HTML)
        assert status == 404 and "Identifier not found" in text, path


def test_every_message_is_translated() -> None:
    with (LOCALE_DIR / "zh_CN/LC_MESSAGES/pages.po").open("rb") as po:
        catalog = read_po(po)
    missing = [m.id for m in catalog if m.id and not all(m.string if isinstance(
        m.string, tuple) else [m.string])]
    assert missing == []
    mo = LOCALE_DIR / "zh_CN/LC_MESSAGES/pages.mo"
    assert mo.stat().st_mtime >= (LOCALE_DIR / "zh_CN/LC_MESSAGES/pages.po").stat().st_mtime - 1


@pytest.mark.usefixtures("chromium", "cjk_font")
async def test_screenshots(node: Served, tmp_path: Path) -> None:
    """A recall, a long parts tree and a not-found, zh-CN and en, phone and desktop."""
    import asyncio
    import subprocess

    ARTIFACTS.mkdir(exist_ok=True)
    pages = {"recall": f"/{PRODUCT}", "long-tree": f"/{LONG}", "not-found": "/88.118.8/NOPE"}
    for page, path in pages.items():
        for lang in ("zh_CN", "en"):
            for device, size in (("phone", "390,1700"), ("desktop", "1280,1300")):
                shot = ARTIFACTS / f"product-{page}-{lang}-{device}.png"
                command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--window-size={size}",
                           f"--user-data-dir={tmp_path / 'profile'}",
                           f"--screenshot={shot}", f"{node.url}{path}?lang={lang}"]
                done = await asyncio.to_thread(subprocess.run, command, capture_output=True,
                                               timeout=120, check=False,
                                               env={**os.environ, "HOME": str(tmp_path)})
                assert done.returncode == 0, done.stderr[-500:]
                assert shot.stat().st_size > 5000


def test_the_signature_names_the_signer_in_plain_words() -> None:
    """"由…签名": the verdict names who signed (the enterprise's registered name and prefix,
    as the trace node's ``signedBy`` gives it), in Chinese and in English."""
    view = ProductView(PRODUCT, describe([]), signature="valid",
                       signer="青岛海悦家电有限公司 (88.118.8)")
    assert "已验证：由 青岛海悦家电有限公司 (88.118.8) 签名，并经本节点信任锚逐级验证" in (
        render_product(view, "zh_CN"))
    assert "Verified: signed by 青岛海悦家电有限公司 (88.118.8), checked up to" in (
        render_product(view, "en"))
    view.signature, view.signer = "revoked", "<b>88.118.9</b>"
    page = render_product(view, "zh_CN")
    assert "由 &lt;b&gt;88.118.9&lt;/b&gt; 签名，但其签名密钥已被吊销" in page  # escaped
    view.signature, view.signer = "invalid", "88.118.9"
    assert "签名验证失败：请勿信任此记录" in render_product(view, "zh_CN")
