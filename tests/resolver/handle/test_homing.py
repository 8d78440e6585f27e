"""Homing prefixes over the Handle protocol (OC_HOME_NA, OC_UNHOME_NA, OC_LIST_HOMED_NAS)
with the server admin's permission, as CNRI ``HandleServer.doHomeNA`` / ``hdl-home-na``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from protocol.bodies import ChallengeResponse
from protocol.constants import (
    OC_HOME_NA,
    RC_AUTHENTICATION_NEEDED,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_HANDLE,
    RC_OPERATION_NOT_SUPPORTED,
)
from protocol.framing import decode_packet
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.core.service import ResolutionService
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import NA, OTHER_NA, OTHER_SECRET, SECRET, seed

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
ADMIN = SecretKeyAuth(NA, 300, SECRET)  # the server admin
PREFIX_ADMIN = SecretKeyAuth(OTHER_NA, 300, OTHER_SECRET)  # admin of a prefix, not of the server

#: CNRI 9.2 ``GenericRequest(OC_HOME_NA)`` for ``0.NA/88.118.20`` as ``sendHttpRequest`` sends it
#: (envelope 2.3 suggesting 2.11, request id 0x7756e1ae, op code 300)
CNRI_HOME = bytes.fromhex(
    "0203020b000000007756e1ae000000000000002e0000012c0000000019000000ffff00006b160a9e"
    "000000120000000e302e4e412f38382e3131382e323000000000"
)


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[HandleServer]:
    await seed(database)
    service = ResolutionService(database, server_admins=[(NA, 300)])
    running = await run_handle_server(service, "127.0.0.1", 0)
    try:
        yield running
    finally:
        await running.close()


async def test_cnri_home_request_is_challenged(server: HandleServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(CNRI_HOME)
    head = await reader.readexactly(20)
    body = await reader.readexactly(int.from_bytes(head[16:20], "big"))
    writer.close()
    answer = decode_packet(head + body)
    assert answer.op_code == OC_HOME_NA and answer.response_code == RC_AUTHENTICATION_NEEDED
    assert isinstance(answer.body, ChallengeResponse)


async def test_home_list_unhome(server: HandleServer, database: HandleStore) -> None:
    client, target = HandleClient(timeout=3), ("127.0.0.1", server.port)
    await client.home_prefix("88.118.20", server=target, auth=ADMIN)
    await client.home_prefix("0.NA/88.118.20", server=target, auth=ADMIN)  # again: fine
    info = await database.get_prefix("88.118.20")
    assert info is not None and info.kind == "hosted"
    assert await database.get_handle("0.NA/88.118.20") is None  # homing writes no handle
    assert "0.NA/88.118.20" in await client.list_homed_prefixes(server=target, auth=ADMIN)
    await client.unhome_prefix("88.118.20", server=target, auth=ADMIN)
    assert await database.get_prefix("88.118.20") is None
    await client.unhome_prefix("88.118.20", server=target, auth=ADMIN)  # not homed: fine
    assert "0.NA/88.118.20" not in await client.list_homed_prefixes(server=target, auth=ADMIN)


async def test_delegated_prefix_becomes_hosted(server: HandleServer, database: HandleStore) -> None:
    await database.create_prefix("88.118.30", kind="delegated")
    await HandleClient().home_prefix("88.118.30", server=("127.0.0.1", server.port), auth=ADMIN)
    info = await database.get_prefix("88.118.30")
    assert info is not None and info.kind == "hosted"


async def test_refusals(server: HandleServer, database: HandleStore) -> None:
    client, target = HandleClient(timeout=3), ("127.0.0.1", server.port)
    with pytest.raises(HandleClientError) as refused:
        await client.home_prefix("88.118.21", server=target, auth=PREFIX_ADMIN)
    assert refused.value.response_code == RC_INSUFFICIENT_PERMISSIONS
    with pytest.raises(HandleClientError) as listing:
        await client.list_homed_prefixes(server=target, auth=PREFIX_ADMIN)
    assert listing.value.response_code == RC_INSUFFICIENT_PERMISSIONS
    with pytest.raises(HandleClientError) as own:
        await client.unhome_prefix("88.118.8", server=target, auth=ADMIN)
    assert own.value.response_code == RC_OPERATION_NOT_SUPPORTED
    with pytest.raises(HandleClientError) as not_prefix:
        await client.home_prefix("88.118.8/TV-0001", server=target, auth=ADMIN)
    assert not_prefix.value.response_code == RC_INVALID_HANDLE
    assert await database.get_prefix("88.118.21") is None
