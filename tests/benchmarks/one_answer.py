"""A Handle TCP front that ends connections as CNRI's TCP interface does, before a real node.

CNRI HANDLE.NET answers one message per TCP connection and closes it; its clients
keep the Handle session across connections.  :class:`OneAnswerFront` listens on a
free loopback port and relays each message, byte for byte, to a real ``idnode
serve`` (one upstream connection per message), then, by ``mode``:

* ``close``: closes the client's connection after the answer (CNRI);
* ``drop``: keeps it open after the answer, and closes it on the next message
  without relaying it (a server that ended the connection while the client was
  sending: the message was never read);
* ``mute``: closes every connection on its first message without relaying it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

ENVELOPE = 20  # RFC 3652 message envelope; the message length is its last 4 octets


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One envelope and the message it announces, as raw bytes."""
    head = await reader.readexactly(ENVELOPE)
    return head + await reader.readexactly(int.from_bytes(head[16:20], "big"))


@dataclass
class OneAnswerFront:
    """Relays to the node on ``node_port``; counts what it did."""

    node_port: int
    mode: str = "close"
    port: int = 0
    answered: int = 0
    dropped: int = 0

    async def _relay(self, frame: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.node_port)
        try:
            writer.write(frame)
            await writer.drain()
            return await read_frame(reader)
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            frame = await read_frame(reader)
            if self.mode == "mute":
                self.dropped += 1
                return
            writer.write(await self._relay(frame))
            await writer.drain()
            self.answered += 1
            if self.mode == "drop":
                await read_frame(reader)
                self.dropped += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away first
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OneAnswerFront]:
        """Listening on a free loopback port (``port``) while inside."""
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()
