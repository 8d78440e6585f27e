"""Worker processes sharing the Handle ports (SO_REUSEPORT), challenges and sessions."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocol.bodies import ValuesRequest
from protocol.constants import OC_ADD_VALUE, RC_AUTHENTICATION_NEEDED, RC_SUCCESS
from protocol.message import Message
from registry.store import HandleStore
from resolver.client import (
    HandleClient,
    HandleClientError,
    SecretKeyAuth,
    _answer,
    _TcpExchange,
)
from resolver.service import ResolutionService
from resolver.workers import WorkerPool, start_workers
from tests.resolver.test_handle_sessions import CnriLikeSession, _add
from tests.resolver.test_handle_support import NA, SECRET, TV, seed, url

ADMIN = SecretKeyAuth(NA, 300, SECRET)


async def open_service(db_url: str) -> ResolutionService:
    """Runs in each worker: its own store on the shared database."""
    return ResolutionService(await HandleStore.open(db_url, migrate=False))


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[WorkerPool]:
    db_url = f"sqlite:///{tmp_path / 'registry.db'}"
    store = await HandleStore.open(db_url)
    await seed(store)
    await store.close()
    workers = await asyncio.to_thread(
        start_workers, 2, functools.partial(open_service, db_url), "127.0.0.1", 0
    )
    try:
        await _until_serving(workers)
        yield workers
    finally:
        await asyncio.to_thread(workers.stop)


async def _until_serving(workers: WorkerPool) -> None:
    client = HandleClient(timeout=1, attempts=1, udp=False)
    for _ in range(600):
        assert workers.alive()
        try:
            await client.resolve(TV, server=("127.0.0.1", workers.port))
            return
        except HandleClientError:
            await asyncio.sleep(0.1)
    raise AssertionError("workers did not start")


async def _connect(port: int) -> _TcpExchange:
    return _TcpExchange(*await asyncio.open_connection("127.0.0.1", port))


async def test_challenges_and_sessions_span_workers(pool: WorkerPool) -> None:
    for index in range(10, 30):
        body = ValuesRequest(TV, (url(index, "x"),))
        request = Message(OC_ADD_VALUE, body=body, request_id=index)
        first = await _connect(pool.port)
        await first.send(request)
        challenge = await first.receive()
        first.close()
        assert challenge.response_code == RC_AUTHENTICATION_NEEDED
        second = await _connect(pool.port)
        await second.send(_answer(request, challenge, ADMIN))
        assert (await second.receive()).response_code == RC_SUCCESS
        second.close()
    client = HandleClient(timeout=2)
    res = await client.resolve(TV, ["URL"], server=("127.0.0.1", pool.port))
    assert len(res.values) == 21
    # a CNRI-style session: setup, request, answer and next request on new connections
    for round_ in range(4):
        session = CnriLikeSession(await _connect(pool.port))
        assert (await session.setup()).response_code == RC_SUCCESS
        session.exchange.close()
        first = _add(40 + 2 * round_, 2)
        session.exchange = await _connect(pool.port)
        challenge = await session.send(first)
        session.exchange.close()
        assert challenge.response_code == RC_AUTHENTICATION_NEEDED
        session.exchange = await _connect(pool.port)
        answered = await session.send(_answer(first, challenge, ADMIN), sign=False)
        session.exchange.close()
        assert answered.response_code == RC_SUCCESS
        session.exchange = await _connect(pool.port)
        assert (await session.send(_add(41 + 2 * round_, 3))).response_code == RC_SUCCESS
        session.exchange.close()
    assert pool.alive()
