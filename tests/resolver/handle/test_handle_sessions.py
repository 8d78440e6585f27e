"""Handle sessions as a stock CNRI client uses them: DH setup, MAC'd requests, one challenge."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks.writes import HandleSession
from protocol.bodies import HandleRequest, SessionSetupRequest, ValuesRequest
from protocol.constants import (
    KEY_EXCHANGE_CIPHER_SERVER,
    KEY_EXCHANGE_DH,
    OC_ADD_VALUE,
    OC_DELETE_HANDLE,
    OC_SESSION_SETUP,
    RC_AUTHENTICATION_NEEDED,
    RC_INVALID_CREDENTIAL,
    RC_INVALID_SESSION_KEY,
    RC_SESSION_FAILED,
    RC_SESSION_MESSAGE_REJECTED,
    RC_SESSION_TIMEOUT,
    RC_SUCCESS,
)
from protocol.credential import sign_message_mac, verify_message_signature
from protocol.message import Message
from protocol.public_key import DHKeyNumbers, encode_key_numbers
from registry.store import HandleStore
from resolver.core.client import SecretKeyAuth, _answer
from resolver.core.service import ResolutionService
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import NA, SECRET, TV, seed, url

SERVER_KEY = rsa.generate_private_key(65537, 2048)
# the transport does not depend on the backend (test_handle_service covers both)
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[HandleServer]:
    await seed(database)
    running = await run_handle_server(
        ResolutionService(database), "127.0.0.1", 0, private_key=SERVER_KEY
    )
    try:
        yield running
    finally:
        await running.close()


class CnriLikeSession(HandleSession):
    """What ``HandleResolver`` does with its default session tracker."""

    async def setup(self, identity: tuple[str, int] = (NA, 300), *,
                    certify: bool = True) -> Message:
        return await super().setup(identity, certify=certify)


async def _open(server: HandleServer) -> CnriLikeSession:
    return CnriLikeSession("127.0.0.1", server.port)


def _add(index: int, request_id: int) -> Message:
    return Message(OC_ADD_VALUE, body=ValuesRequest(TV, (url(index, "s"),)), request_id=request_id)


@SQLITE_ONLY
async def test_session_authenticates_once_then_macs_suffice(server: HandleServer) -> None:
    session = await _open(server)
    setup = await session.setup()
    assert setup.response_code == RC_SUCCESS
    assert verify_message_signature(setup, SERVER_KEY.public_key())  # certified by the server key
    first = _add(20, 2)
    challenge = await session.send(first)
    assert challenge.response_code == RC_AUTHENTICATION_NEEDED
    assert challenge.session_id == session.session_id
    answer = _answer(first, challenge, SecretKeyAuth(NA, 300, SECRET))
    assert (await session.send(answer, sign=False)).response_code == RC_SUCCESS
    # the session is now authenticated: no further challenge
    second = _add(21, 4)
    assert (await session.send(second)).response_code == RC_SUCCESS
    # a replayed counter, a wrong MAC and a missing MAC are refused
    replay = _add(22, 5)
    replay.session_id = session.session_id
    sign_message_mac(replay, session.key, session.counter)
    assert (await session.send(replay, sign=False)).response_code == RC_SESSION_MESSAGE_REJECTED
    forged = _add(23, 6)
    forged.session_id = session.session_id
    sign_message_mac(forged, b"k" * 32, 999)
    assert (await session.send(forged, sign=False)).response_code == RC_INVALID_SESSION_KEY
    bare = _add(24, 7)
    bare.session_id = session.session_id
    assert (await session.send(bare, sign=False)).response_code == RC_INVALID_CREDENTIAL
    session.close()
    record = await server.processor.service.store.get_handle(TV, indexes=[20, 21, 22, 23, 24])
    assert record is not None
    assert [v.index for v in record.values] == [20, 21]
    assert session.connections == 1  # the server kept the connection open throughout


@SQLITE_ONLY
async def test_unknown_session_and_unsupported_exchange(server: HandleServer) -> None:
    session = await _open(server)
    session.session_id, session.key = 12345, b"x" * 32
    response = await session.send(Message(OC_DELETE_HANDLE, body=HandleRequest(TV), request_id=3))
    assert response.response_code == RC_SESSION_TIMEOUT
    body = SessionSetupRequest(KEY_EXCHANGE_CIPHER_SERVER)
    request = Message(OC_SESSION_SETUP, body=body, request_id=4)
    assert (await session.send(request, sign=False)).response_code == RC_SESSION_FAILED
    weak = encode_key_numbers(DHKeyNumbers(p=23, g=5, y=8))
    body = SessionSetupRequest(KEY_EXCHANGE_DH, 60, "", 0, weak)
    request = Message(OC_SESSION_SETUP, body=body, request_id=5)
    assert (await session.send(request, sign=False)).response_code == RC_SESSION_FAILED
    session.close()
    assert await server.processor.service.store.get_handle(TV) is not None
