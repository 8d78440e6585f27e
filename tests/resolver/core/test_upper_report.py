"""The statistics report reaches the upper node: POSTed to a URL or written to a file,
and sent periodically by a serving node configured with ``upper_report_url``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from registry.config import NodeConfig
from resolver.core.upper_report import UpperReportError, deliver
from resolver.node import start_node

DOCUMENT = {"format": "idnode-stats-report/1", "node_prefix": "88.118"}


async def test_posted_to_an_http_upper_node() -> None:
    received: list[Any] = []

    async def accept(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/stats", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        where = await deliver(DOCUMENT, f"http://127.0.0.1:{port}/stats")
        assert where.endswith("/stats")
        with pytest.raises(UpperReportError, match="HTTP 404"):
            await deliver(DOCUMENT, f"http://127.0.0.1:{port}/elsewhere")
    finally:
        await runner.cleanup()
    assert received == [DOCUMENT]
    with pytest.raises(UpperReportError) as refused:
        await deliver(DOCUMENT, f"http://127.0.0.1:{port}/stats")
    assert refused.value.unreachable


async def test_a_serving_node_reports_periodically(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    config = NodeConfig(data_dir=tmp_path, handle_port=0, http_port=0,
                        upper_report_url=str(target), upper_report_hours=0.0003)
    node = await start_node(config)
    try:
        for _ in range(600):  # bounded wait for the first period (about 1 s) to end
            if target.exists() and target.read_text().endswith("\n"):
                break
            await asyncio.sleep(0.05)
    finally:
        await node.close()
    report = json.loads(target.read_text())
    assert report["format"] == "idnode-stats-report/1"
    assert report["node_prefix"] == "88.118"
    assert report["period"]["start"] < report["period"]["end"]
