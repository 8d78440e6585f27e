"""A TLS-terminating front with a self-signed certificate, before a real node's plain HTTP.

What a peer such as CNRI's offers (HTTPS with a self-signed certificate on loopback),
in front of ``idnode serve`` started with ``http_insecure_auth`` (a node behind a
TLS-terminating proxy): :func:`tls_front` listens on a free loopback port and relays
every connection's bytes both ways to the node's HTTP port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.resolver.http.test_rest_harness import self_signed_context


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_front(node_http_port: int, folder: Path) -> AsyncIterator[int]:
    """HTTPS on a free loopback port (its certificate written under ``folder``),
    relayed to 127.0.0.1:``node_http_port``; the port."""
    context = self_signed_context(folder)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", node_http_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
