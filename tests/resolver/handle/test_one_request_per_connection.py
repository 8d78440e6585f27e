"""A CNRI server answers one request per TCP connection (HdlTcpRequestHandler closes it);
HandleClient sends a challenge's answer on a new connection, so admin requests work there."""

from __future__ import annotations

import asyncio

import pytest

from protocol.constants import MESSAGE_ENVELOPE_SIZE
from protocol.envelope import decode_envelope
from protocol.framing import encode_tcp
from registry.store import HandleStore
from resolver.core.client import HandleClient, SecretKeyAuth
from resolver.core.service import ResolutionService
from resolver.handle.requests import RequestProcessor
from tests.resolver.handle.test_handle_support import NA, SECRET, admin_value, seed, url

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def test_admin_request_against_a_one_request_per_connection_server(
    database: HandleStore,
) -> None:
    await seed(database)
    processor = RequestProcessor(ResolutionService(database))
    connections = 0

    async def one_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readexactly(MESSAGE_ENVELOPE_SIZE)
        env = decode_envelope(head)
        request = await processor.decode(env, await reader.readexactly(env.message_length))
        for response in await processor.process(request):
            writer.write(encode_tcp(response))
        await writer.drain()
        writer.close()  # as CNRI: one request, then the connection is closed

    server = await asyncio.start_server(one_request, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await HandleClient(udp=False, timeout=3, attempts=1).create_handle(
            "88.118.8/one", [url(1, "https://e.test/1"), admin_value(100, NA, 300)],
            server=("127.0.0.1", port), auth=SecretKeyAuth(NA, 300, SECRET),
        )
    finally:
        server.close()
    assert await database.get_handle("88.118.8/one") is not None
    assert connections == 2  # the request, then the challenge's answer
