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
from protocol.credential import decode_credential, sign_message_mac, verify_message_mac
from protocol.message import Message
from protocol.values import HandleValue
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


async def _authenticated(port: int, first: str) -> HandleSession:
    """A session authenticated by answering the challenge of its first create, ``first``."""
    session = await HandleSession.open("127.0.0.1", port, (NA, 300))
    challenged = _create(first, session.next_id())
    response = await session.send(challenged)
    assert response.response_code == RC_AUTHENTICATION_NEEDED
    answer = _answer(challenged, response, AUTH)
    assert (await session.send(answer, sign=False)).response_code == RC_SUCCESS
    return session


async def test_creates_commit_their_counter_and_refuse_replays(
    workers: tuple[HandleServer, HandleServer], database: HandleStore,
) -> None:
    first, second = workers
    session = await _authenticated(first.port, f"{PREFIX}/G-1")
    try:
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


async def test_a_rotated_credential_refuses_the_next_create_and_ends_the_session(
    workers: tuple[HandleServer, HandleServer], database: HandleStore,
) -> None:
    """The credential is read with the create's handle and prefix handle, not on its
    own: a key rotated between two creates of a session still ends it, nothing stored."""
    first, _second = workers
    session = await _authenticated(first.port, f"{PREFIX}/K-1")
    try:
        CountingState.changes = 0
        assert await session.create(f"{PREFIX}/K-2", (url(1, "x"),), AUTH) == RC_SUCCESS
        assert CountingState.changes <= 1  # in the session, by the guarded way
        await database.modify_values(
            NA, [HandleValue(300, "HS_SECKEY", b"rotated-secret", public_read=False)],
            actor="operator")
        assert await session.create(f"{PREFIX}/K-3", (url(1, "x"),), AUTH) == RC_SESSION_TIMEOUT
        assert await session.create(f"{PREFIX}/K-4", (url(1, "x"),), AUTH) == RC_SESSION_TIMEOUT
    finally:
        session.close()
    stored = {name for name in await database.list_handles(PREFIX, page_size=100)
              if name.startswith(f"{PREFIX}/K-")}
    assert stored == {f"{PREFIX}/K-1", f"{PREFIX}/K-2"}


async def test_a_certified_create_is_signed_with_a_counter_taken_in_its_write(
    workers: tuple[HandleServer, HandleServer], database: HandleStore,
) -> None:
    """A create asking for a certified response in the session: the response's MAC
    counter is taken in the create's transaction, no transaction of its own."""
    first, _second = workers
    session = await _authenticated(first.port, f"{PREFIX}/S-1")
    try:
        # the first create in the session reads it in this process
        assert await session.create(f"{PREFIX}/S-2", (url(1, "x"),), AUTH) == RC_SUCCESS
        CountingState.changes = 0
        counters = []
        for n in (3, 4):
            message = _create(f"{PREFIX}/S-{n}", session.next_id())
            message.certify = True
            session.counter += 1
            response = await _signed(session, message, session.counter)
            assert response.response_code == RC_SUCCESS
            assert response.certify and verify_message_mac(response, session.key)
            assert response.signature is not None
            counters.append(decode_credential(response.signature).session_counter)
        assert counters[0] > 0 and counters[1] == counters[0] + 1
        assert CountingState.changes == 0
    finally:
        session.close()
