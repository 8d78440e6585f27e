"""Encrypted requests inside a session (CNRI clients encrypt a create whose values are not
publicly readable): RequestProcessor.decode decrypts with the session key."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.bodies import ResolutionRequest
from protocol.constants import OC_RESOLUTION, RC_SESSION_FAILED
from protocol.errors import ProtocolError
from protocol.message import Message, encode_message
from protocol.session_cipher import encrypt
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.handle.requests import RequestProcessor

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
KEY = bytes(range(32))


async def test_encrypted_request_is_decrypted_with_its_session_key(database: HandleStore) -> None:
    processor = RequestProcessor(ResolutionService(database))
    session_id = (await processor.sessions.open(KEY, 60)).number
    request = Message(op_code=OC_RESOLUTION, body=ResolutionRequest("88.118.8/x"),
                      request_id=5, session_id=session_id)
    sealed = encrypt(KEY, encode_message(request))
    env = dataclasses.replace(request.envelope(len(sealed)), encrypted=True)
    decoded = await processor.decode(env, sealed)
    assert decoded.body == ResolutionRequest("88.118.8/x") and decoded.session_id == session_id

    for bad_env, data in ((dataclasses.replace(env, session_id=session_id + 1), sealed),
                          (dataclasses.replace(env, session_id=0), sealed),
                          (env, encrypt(bytes(32), encode_message(request)))):
        with pytest.raises(ProtocolError) as refused:
            await processor.decode(bad_env, data)
        assert refused.value.response_code == RC_SESSION_FAILED

