"""Fixtures of the tenancy and anonymous-cost tests (issue 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import serve


@pytest.fixture
async def rest(database: HandleStore, tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the REST test node (seeded by the harness) on ``database``."""
    async with serve(database, tmp_path) as served:
        connector = aiohttp.TCPConnector(ssl=False)
        async with aiohttp.ClientSession(served.url, connector=connector) as session:
            yield session
