"""CLI writes reach a running node's caches through Redis before the command reports success.

A node runs in this process (``start_node`` with the test's Redis prefix);
``idnode`` runs as a subprocess with the same ``redis_url``/``redis_prefix``
in its environment.  Each test first makes the node cache an answer (a second
resolution is a memory hit), changes the record with the CLI and then finds
the node answering the new record: the values' TTL is a day, so only the
invalidation can explain it.  Pub/sub delivery to the node's listener is
asynchronous, so the tests give it a moment (:func:`dropped`) before resolving.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from registry.config import CONFIG_FILE_NAME, load_config
from registry.names import name_key
from resolver.core.cache import Kind
from resolver.core.stack import LOCAL, ResolutionStack
from resolver.node import RunningNode, start_node
from tests.admin.conftest import REPO, Node
from tests.resolver.core.test_cache_redis import subscribed

TV = "88.118.8/TV-0001"
WAIT = 5.0


@dataclass
class Setup:
    """The running node and the environment that points the CLI at the same Redis."""

    node: Node
    running: RunningNode
    env: dict[str, str]

    @property
    def stack(self) -> ResolutionStack:
        stack = self.running.service.answers
        assert isinstance(stack, ResolutionStack)
        return stack

    async def idnode(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run ``idnode`` without blocking the node's event loop; (exit code, stderr)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "admin.cli", "--data-dir", str(self.node.data_dir), *args,
            cwd=REPO, env=env or self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, stderr.decode()

    async def url_of(self, handle: str) -> str | None:
        """The URL the node answers for ``handle`` (None: not found)."""
        answer = await self.running.service.resolve(handle)
        if answer.response_code == RC_HANDLE_NOT_FOUND:
            return None
        assert answer.response_code == RC_SUCCESS
        return next(v.data.decode() for v in answer.values if v.type == "URL")

    async def cached(self, handle: str) -> str | None:
        """Resolve ``handle`` twice; the second answer must come from the memory cache."""
        first = await self.url_of(handle)
        hits = self.stack.counters.get("memory_hits", 0)
        assert await self.url_of(handle) == first
        assert self.stack.counters.get("memory_hits", 0) == hits + 1
        return first

    async def dropped(self, handle: str) -> None:
        """Wait until the node's listener has applied the invalidation of ``handle``."""
        async with asyncio.timeout(WAIT):
            while True:
                if self.stack.local.get(LOCAL + name_key(handle)) is None:
                    return
                await asyncio.sleep(0.01)


@pytest.fixture
async def setup(node: Node, redis_url: str, redis_prefix: str) -> AsyncIterator[Setup]:
    """The ``node`` data dir served in this process with Redis, and the CLI's environment."""
    result = node.run("handle", "create", TV, "--value", "1:URL:https://old")
    assert result.returncode == 0
    config = load_config(node.data_dir / CONFIG_FILE_NAME, environ={}, overrides={
        "data_dir": node.data_dir, "handle_port": 0, "http_port": 0,
        "redis_url": redis_url, "redis_prefix": redis_prefix,
    })
    running = await start_node(config)
    try:
        await subscribed(redis_url, redis_prefix, 1)
        env = os.environ | {"IDNODE_REDIS_URL": redis_url, "IDNODE_REDIS_PREFIX": redis_prefix}
        yield Setup(node, running, env)
    finally:
        await running.close()


async def test_handle_set_and_delete_reach_the_cache(setup: Setup) -> None:
    assert await setup.cached(TV) == "https://old"
    code, stderr = await setup.idnode("handle", "set", TV, "--value", "1:URL:https://new")
    assert (code, stderr) == (0, "")
    await setup.dropped(TV)
    assert await setup.url_of(TV) == "https://new"

    assert await setup.cached(TV) == "https://new"
    assert await setup.idnode("handle", "delete", TV) == (0, "")
    await setup.dropped(TV)
    assert await setup.url_of(TV) is None


async def test_an_import_reaches_the_cache(setup: Setup, tmp_path: Path) -> None:
    fresh = "88.118.8/TV-0002"
    assert await setup.cached(TV) == "https://old"
    assert await setup.cached(fresh) is None  # a cached "not found"
    source = tmp_path / "changes.csv"
    source.write_text(f"handle,index,type,data\n{TV},1,URL,https://imported\n"
                      f"{fresh},1,URL,https://fresh\n", encoding="utf-8")
    code, stderr = await setup.idnode("import", str(source), "--overwrite", "--quiet")
    assert (code, stderr) == (0, "")
    await setup.dropped(TV)
    await setup.dropped(fresh)
    assert await setup.url_of(TV) == "https://imported"
    assert await setup.url_of(fresh) == "https://fresh"


async def test_a_prefix_change_drops_the_prefix_handle_and_local_negatives(
    setup: Setup,
) -> None:
    pump, prefix_handle = "88.118.9/PUMP", "0.NA/88.118.9"
    assert await setup.cached(pump) is None
    assert (await setup.stack.answer(prefix_handle)).kind is Kind.ABSENT
    assert await setup.idnode("prefix", "delegate", "88.118.9", "--server",
                              "127.0.0.1:2641") == (0, "")
    await setup.dropped(pump)  # a negative under no changed handle: gone as a prefix change
    await setup.dropped(prefix_handle)
    assert (await setup.stack.answer(prefix_handle)).kind is Kind.FOUND


async def test_unreachable_redis_warns_and_the_write_stands(setup: Setup) -> None:
    env = setup.env | {"IDNODE_REDIS_URL": "redis://127.0.0.1:1/0"}
    code, stderr = await setup.idnode("handle", "set", TV, "--value", "1:URL:https://new",
                                      env=env)
    assert code == 0
    lines = stderr.splitlines()
    assert len(lines) == 1 and "change feed" in lines[0], stderr
    record = await setup.running.store.get_handle(TV)
    assert record is not None and record.values[0].data == b"https://new"
