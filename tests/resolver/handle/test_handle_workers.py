"""``idnode serve --workers 2``: processes sharing the Handle ports (SO_REUSEPORT),
challenges and sessions, driven the way a CNRI client talks: every step of an
authentication or a session on a new connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.bodies import ValuesRequest
from protocol.constants import OC_ADD_VALUE, RC_AUTHENTICATION_NEEDED, RC_SUCCESS
from protocol.message import Message
from resolver.core.client import (
    HandleClient,
    SecretKeyAuth,
    _answer,
    _TcpExchange,
)
from tests.resolver.handle.test_handle_sessions import CnriLikeSession, _add
from tests.resolver.handle.test_handle_support import NA, SECRET, TV, seed, url
from tests.resolver.worker_pool import Pool, start_pool

ADMIN = SecretKeyAuth(NA, 300, SECRET)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Pool]:
    started = start_pool(tmp_path, 2, seed)
    assert started.workers() == 2
    yield started
    started.stop()


async def _connect(port: int) -> _TcpExchange:
    return _TcpExchange(*await asyncio.open_connection("127.0.0.1", port))


async def test_challenges_and_sessions_span_workers(pool: Pool) -> None:
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
        session = CnriLikeSession("127.0.0.1", pool.port)
        assert (await session.setup()).response_code == RC_SUCCESS
        session.close()  # each step on a new connection, as CNRI's resolver may
        first = _add(40 + 2 * round_, 2)
        challenge = await session.send(first)
        session.close()
        assert challenge.response_code == RC_AUTHENTICATION_NEEDED
        answered = await session.send(_answer(first, challenge, ADMIN), sign=False)
        session.close()
        assert answered.response_code == RC_SUCCESS
        assert (await session.send(_add(41 + 2 * round_, 3))).response_code == RC_SUCCESS
        session.close()
        assert session.connections == 4
    assert pool.alive()
