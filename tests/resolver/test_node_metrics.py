"""A node started from its configuration counts every front end in one /metrics page."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from registry.config import NodeConfig
from resolver.core.client import HandleClient
from resolver.node import start_node
from tests.resolver.core.test_cache import url


async def test_handle_and_rest_requests_are_counted(tmp_path: Path) -> None:
    node = await start_node(NodeConfig(data_dir=tmp_path, handle_port=0, http_port=0))
    try:
        await node.store.create_prefix("88.118.8")
        await node.store.replace_handle("88.118.8/TV-0001", [url(1, "https://tv")], actor="t")
        client = HandleClient(timeout=3.0)
        answer = await client.resolve("88.118.8/TV-0001", server=("127.0.0.1", node.handle_port))
        assert answer.values[0].data == b"https://tv"
        base = f"http://127.0.0.1:{node.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/handles/88.118.8/NOPE") as missing:
                assert missing.status == 404
            async with http.get(f"{base}/metrics") as page:
                text = await page.text()
    finally:
        await node.close()
    assert 'idnode_requests_total{frontend="handle",response_code="1"} 1' in text
    assert 'idnode_requests_total{frontend="rest",response_code="100"} 1' in text
    assert 'idnode_request_duration_seconds_count{frontend="handle"} 1' in text
