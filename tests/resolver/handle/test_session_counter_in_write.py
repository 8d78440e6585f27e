"""A create in an authenticated Handle session records its session counter in the
create's own transaction (one commit per create, resolver/core/auth_sessions.py
``Sessions.guard``), and still: a replay is refused in every process sharing the
registry, a refused create spends its counter, a session ended elsewhere refuses the
create at once, and nothing refused is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from benchmarks.writes import HandleSession
from protocol.bodies import ValuesRequest
from protocol.constants import (
    OC_CREATE_HANDLE,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_ALREADY_EXISTS,
    RC_SESSION_MESSAGE_REJECTED,
    RC_SESSION_TIMEOUT,
    RC_SUCCESS,
)
from protocol.credential import sign_message_mac
from protocol.message import Message
from registry.store import HandleStore
from resolver.core.auth_sessions import (
    HANDLE,
    Challenges,
    Change,
    DatabaseAuthState,
    R,
    Sessions,
)
from resolver.core.client import SecretKeyAuth, _answer
from resolver.core.service import ResolutionService
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import NA, PREFIX, SECRET, seed, url

AUTH = SecretKeyAuth(NA, 300, SECRET)


class CountingState(DatabaseAuthState):
    """The registry's auth state, counting the changes made in transactions of their own."""

    changes = 0

    async def change(self, key: str, change: Change[R]) -> R | None:
        CountingState.changes += 1
        return await super().change(key, change)


def _sessions(store: HandleStore) -> Sessions:
    return Sessions(CountingState(store), HANDLE, lifetime=600)


@pytest.fixture
async def workers(database: HandleStore) -> AsyncIterator[tuple[HandleServer, HandleServer]]:
    """Two servers keeping challenges and sessions in one registry, as a node's workers."""
    await seed(database)
    servers = []
    try:
        for _ in range(2):
            servers.append(await run_handle_server(
                ResolutionService(database), "127.0.0.1", 0,
                challenges=Challenges(DatabaseAuthState(database), 30.0),
                sessions=_sessions(database)))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            await server.close()


def _create(name: str, request_id: int) -> Message:
    return Message(OC_CREATE_HANDLE, body=ValuesRequest(name, (url(1, name),)),
                   request_id=request_id)


async def _signed(session: HandleSession, message: Message, counter: int) -> Message:
    message.session_id = session.session_id
    sign_message_mac(message, session.key, counter)
    return await session.send(message, sign=False)


async def test_creates_commit_their_counter_and_refuse_replays(
    workers: tuple[HandleServer, HandleServer], database: HandleStore,
) -> None:
    first, second = workers
    session = await HandleSession.open("127.0.0.1", first.port, (NA, 300))
    try:
        challenged = _create(f"{PREFIX}/G-1", session.next_id())
        response = await session.send(challenged)
        assert response.response_code == RC_AUTHENTICATION_NEEDED
        answer = _answer(challenged, response, AUTH)
        assert (await session.send(answer, sign=False)).response_code == RC_SUCCESS
        # in the session: each create commits with its counter, no commit of its own
        CountingState.changes = 0
        for n in range(2, 5):
            assert await session.create(f"{PREFIX}/G-{n}", (url(1, "x"),), AUTH) == RC_SUCCESS
        assert CountingState.changes <= 1  # the first read of the session in this process
        spent = session.counter
        # a replayed counter, to this worker or another one, stores nothing
        replay = await _signed(session, _create(f"{PREFIX}/G-R1", session.next_id()), spent)
        assert replay.response_code == RC_SESSION_MESSAGE_REJECTED
        other = HandleSession("127.0.0.1", second.port)
        other.session_id, other.key = session.session_id, session.key
        try:
            replay = await _signed(other, _create(f"{PREFIX}/G-R2", 1), spent)
            assert replay.response_code == RC_SESSION_MESSAGE_REJECTED
            # the other worker takes the session's next counter
            fresh = await _signed(other, _create(f"{PREFIX}/G-5", 2), spent + 1)
            assert fresh.response_code == RC_SUCCESS
            assert (await _signed(session, _create(f"{PREFIX}/G-R3", session.next_id()),
                                  spent + 1)).response_code == RC_SESSION_MESSAGE_REJECTED
        finally:
            other.close()
        # a create refused by the store (the handle exists) spends its counter all the same
        session.counter = spent + 1
        exists = _create(f"{PREFIX}/G-2", session.next_id())
        assert (await session.send(exists)).response_code == RC_HANDLE_ALREADY_EXISTS
        again = await _signed(session, _create(f"{PREFIX}/G-R4", session.next_id()),
                              session.counter)
        assert again.response_code == RC_SESSION_MESSAGE_REJECTED
        # the session ended by another process: the next create is refused at once
        await _sessions(database).close(str(session.session_id))
        gone = await session.create(f"{PREFIX}/G-R5", (url(1, "x"),), AUTH)
        assert gone == RC_SESSION_TIMEOUT
    finally:
        session.close()
    stored = {name for name in await database.list_handles(PREFIX, page_size=100)
              if name.startswith(f"{PREFIX}/G-")}
    assert stored == {f"{PREFIX}/G-{n}" for n in range(1, 6)}
