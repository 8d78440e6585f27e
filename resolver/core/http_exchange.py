"""The client side of Handle messages over HTTP (CNRI ``HandleResolver.sendHttpRequest``).

Each request is one ``POST /{handle}`` (the handle percent-encoded as one path
segment, as ``encodeHandleAsUri``) with ``Content-Type`` and ``Accept`` of
``application/x-hdl-message`` and the envelope + message as the body; the
answer body holds one or more response messages back to back.  A challenge is
answered with a second POST, since the server keeps challenges by session id,
not by connection.  aiohttp does the HTTP.
"""

from __future__ import annotations

from collections import deque
from urllib.parse import quote

import aiohttp

from protocol.constants import HDL_MIME_TYPE
from protocol.errors import ProtocolError
from protocol.framing import encode_tcp, split_frames
from protocol.message import Message, decode_message

HEADERS = {"Content-Type": HDL_MIME_TYPE, "Accept": HDL_MIME_TYPE}


def handle_uri(handle: str) -> str:
    """``HandleResolver.encodeHandleAsUri``: ``/`` and the handle as one encoded segment."""
    return "/" + quote(handle, safe="")


def split_messages(body: bytes, max_message_size: int) -> list[Message]:
    """The messages (envelope + message each) of one HTTP answer body, in order."""
    return [decode_message(env, data, max_message_size)
            for env, data in split_frames(body, max_message_size)]


class HttpExchange:
    """One conversation with one server's HTTP interface (``send``, ``receive``, ``close``)."""

    def __init__(self, host: str, port: int, handle: str, max_message_size: int) -> None:
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"http://{netloc}:{port}{handle_uri(handle)}"
        self.max_message_size = max_message_size
        self.pending: deque[Message] = deque()

    async def send(self, msg: Message) -> None:
        """POST ``msg``; its answers wait for :meth:`receive`."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.url, data=encode_tcp(msg), headers=HEADERS, allow_redirects=False
            ) as answer,
        ):
            body = await answer.read()
            kind = answer.headers.get("Content-Type", "")
            if answer.status != 200 or HDL_MIME_TYPE not in kind:
                raise ProtocolError(
                    f"{self.url} answered HTTP {answer.status} {kind or 'without a type'}, "
                    "not Handle messages"
                )
        self.pending.extend(split_messages(body, self.max_message_size))

    async def receive(self) -> Message:
        """The next response message of the last POST."""
        if not self.pending:
            raise ProtocolError(f"{self.url}: no more messages in the HTTP answer")
        return self.pending.popleft()

    def close(self) -> None:
        """Nothing stays open between POSTs."""
