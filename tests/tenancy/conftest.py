"""Fixtures of the tenancy and anonymous-cost tests (issue 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import serve


@asynccontextmanager
async def rest_client(
    database: HandleStore, tmp_path: Path, **options: Any
) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the REST test node (HTTPS, seeded by the harness) on ``database``;
    ``options`` go to ``make_app``."""
    async with serve(database, tmp_path, **options) as served:
        connector = aiohttp.TCPConnector(ssl=False)
        async with aiohttp.ClientSession(served.url, connector=connector) as session:
            yield session


@pytest.fixture
async def rest(database: HandleStore, tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    """:func:`rest_client` with the default options."""
    async with rest_client(database, tmp_path) as session:
        yield session
