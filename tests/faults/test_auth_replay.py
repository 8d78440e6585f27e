"""Auth review: replayed and downgraded proofs of identity are refused.

* A Handle challenge answer is single-use: replayed (same connection or a new
  one) after it was accepted it finds no challenge (RC_AUTHEN_TIMEOUT) and
  changes nothing, even though the record moved on meanwhile.
* A REST ``Authorization: Handle`` signature is single-use: replayed on its
  session, or moved to a fresh session, it is refused (401) and stores nothing.
* Downgrade: an answer to a 2.10 challenge must be in 2.10 form; relabelling
  the answer message 2.0 to have a bare MD5 value accepted is refused.  A
  PBKDF2 answer asking for more iterations than the server allows is refused
  without being computed.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from benchmarks.soak import ADMIN, NA, PREFIX, SECRET, generation_of, record_values
from protocol.auth import MAX_PBKDF2_ITERATIONS, challenge_digest, secret_key_answer
from protocol.bodies import ChallengeAnswerRequest, ChallengeResponse, ValuesRequest
from protocol.constants import (
    AUTH_TYPE_SECRET_KEY,
    HASH_CODE_MD5_OLD_FORMAT,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    OC_MODIFY_VALUE,
    RC_AUTHEN_TIMEOUT,
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_SUCCESS,
)
from protocol.message import Message
from protocol.rest_json import values_to_json
from protocol.wire import Writer
from resolver.core.client import HandleClient, _answer, _new_request, _TcpExchange
from resolver.node import RunningNode
from tests.faults._node import running_node


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    """The seeded node, in this process."""
    async with running_node(tmp_path / "node") as running:
        yield running


async def _connect(node: RunningNode) -> _TcpExchange:
    return _TcpExchange(*await asyncio.open_connection("127.0.0.1", node.handle_port))


async def _ask(exchange: _TcpExchange, message: Message) -> Message:
    await exchange.send(message)
    return await exchange.receive()


async def _created(node: RunningNode, name: str) -> None:
    await HandleClient(timeout=10.0, attempts=1).create_handle(
        name, record_values(name, 1), server=("127.0.0.1", node.handle_port), auth=ADMIN)


async def _challenged(node: RunningNode, name: str) -> tuple[Message, _TcpExchange, Message]:
    """Create ``name``, then ask to modify it: the request, its connection, the challenge."""
    await _created(node, name)
    request = _new_request(OC_MODIFY_VALUE,
                           ValuesRequest(name, tuple(record_values(name, 2)[:3])))
    exchange = await _connect(node)
    challenge = await _ask(exchange, request)
    assert challenge.response_code == RC_AUTHENTICATION_NEEDED
    return request, exchange, challenge


async def _refused_answer(node: RunningNode, name: str, signed: Callable[[Message], bytes],
                          version: tuple[int, int] | None = None) -> None:
    """Answer the challenge of a modify of ``name`` with ``signed(challenge)`` (in a message
    labelled ``version``): refused, and the record is left as it was."""
    request, exchange, challenge = await _challenged(node, name)
    assert (challenge.major_version, challenge.minor_version) >= (2, 1)
    answer = dataclasses.replace(
        _answer(request, challenge, ADMIN),
        body=ChallengeAnswerRequest(AUTH_TYPE_SECRET_KEY, NA, 300, signed(challenge)))
    if version is not None:
        answer = dataclasses.replace(answer, major_version=version[0], minor_version=version[1],
                                     suggest_major_version=version[0],
                                     suggest_minor_version=version[1])
    refused = await _ask(exchange, answer)
    exchange.close()
    assert refused.response_code == RC_AUTHENTICATION_FAILED
    record = await node.store.get_handle(name)
    assert record is not None and generation_of(record.values) == 1


async def test_handle_challenge_answer_is_single_use(node: RunningNode) -> None:
    name = f"{PREFIX}/replayed"
    request, exchange, challenge = await _challenged(node, name)
    answer = _answer(request, challenge, ADMIN)
    assert (await _ask(exchange, answer)).response_code == RC_SUCCESS

    await HandleClient(timeout=10.0, attempts=1).modify_values(
        name, record_values(name, 3)[:3], server=("127.0.0.1", node.handle_port), auth=ADMIN)
    assert (await _ask(exchange, answer)).response_code == RC_AUTHEN_TIMEOUT
    exchange.close()
    elsewhere = await _connect(node)
    assert (await _ask(elsewhere, answer)).response_code == RC_AUTHEN_TIMEOUT
    elsewhere.close()

    record = await node.store.get_handle(name)
    assert record is not None and generation_of(record.values) == 3
    assert [e.action for e in await node.store.audit_entries(handle=name)] == [
        "create", "modify_values", "modify_values"]


def _bare_md5(challenge: Message) -> bytes:
    """The answer a 2.0 client gives: ``MD5(key + nonce + digest + key)``, no code octet."""
    body = challenge.body
    assert isinstance(body, ChallengeResponse)
    return secret_key_answer(body.nonce, challenge_digest(challenge).digest, SECRET,
                             HASH_CODE_MD5_OLD_FORMAT)


def _costly(_challenge: Message) -> bytes:
    """A PBKDF2 answer asking for more iterations than the server will run."""
    return bytes([HASH_CODE_PBKDF2_HMAC_SHA1]) + (
        Writer().byte_array(os.urandom(16)).i32(MAX_PBKDF2_ITERATIONS + 1).i32(160)
        .byte_array(bytes(20)).getvalue())


async def test_old_format_answer_to_a_new_challenge_is_refused(node: RunningNode) -> None:
    await _refused_answer(node, f"{PREFIX}/downgraded", _bare_md5, version=(2, 0))


async def test_too_costly_pbkdf2_answer_is_refused_unchecked(node: RunningNode) -> None:
    await _refused_answer(node, f"{PREFIX}/costly", _costly)


def _mac_header(session_id: str, nonce: bytes) -> str:
    cnonce = os.urandom(16)
    mac = hmac.new(SECRET, nonce + cnonce, hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f'Handle sessionId="{session_id}", id="300:{NA}", type="HS_SECKEY", '
            f'cnonce="{b64(cnonce).decode()}", alg="HMAC-SHA256", '
            f'signature="{b64(mac).decode()}"')


async def _session(http: aiohttp.ClientSession) -> tuple[str, bytes]:
    async with http.post("/api/sessions") as response:
        body = await response.json()
    return body["sessionId"], base64.b64decode(body["nonce"])


async def _put(http: aiohttp.ClientSession, name: str, generation: int, header: str) -> int:
    body = {"values": values_to_json(record_values(name, generation))}
    async with http.put(f"/api/handles/{name}", json=body,
                        headers={"Authorization": header}) as response:
        return response.status


async def test_rest_session_signature_is_single_use(node: RunningNode) -> None:
    name = f"{PREFIX}/rest-replayed"
    async with aiohttp.ClientSession(f"http://127.0.0.1:{node.http_port}") as http:
        session_id, nonce = await _session(http)
        header = _mac_header(session_id, nonce)
        assert await _put(http, name, 1, header) == 201
        assert await _put(http, name, 2, header) == 401
        other_id, _ = await _session(http)
        moved = header.replace(f'sessionId="{session_id}"', f'sessionId="{other_id}"')
        assert await _put(http, name, 2, moved) == 401
    record = await node.store.get_handle(name)
    assert record is not None and generation_of(record.values) == 1
