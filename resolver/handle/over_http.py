"""Handle protocol messages carried in HTTP bodies, as CNRI's ``NativeServlet``.

A CNRI client that reaches a server through its HTTP interface
(``Interface.SP_HDL_HTTP``, ``HandleResolver.sendHttpRequest``) POSTs
``/{handle}`` with ``Content-Type`` and ``Accept`` of :data:`HDL_MIME_TYPE`;
the body is one envelope and its message, exactly as on TCP.  The answer is the
response messages (envelope + message each, several for a long handle list)
back to back in one body of the same type: the framing of
:func:`protocol.framing.split_frames` / :func:`~protocol.framing.encode_frames`,
which the client side (:mod:`resolver.core.http_exchange`) reads too.
:class:`NativeHttpAnswerer` turns
such a body into such an answer with the node's :class:`RequestProcessor`, so
HTTP answers alike with TCP; the HTTP front end only moves the bytes (it gets
this class as a plain callable from the node wiring, front ends not importing
each other).

As ``NativeServlet``: one leading CR or LF is skipped, a short or bad envelope
gets an RC_PROTOCOL_ERROR message with op code 0, and an envelope longer than
its body is refused with the lengths named.
"""

from __future__ import annotations

from protocol.constants import RC_PROTOCOL_ERROR
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.framing import BadEnvelope, TruncatedFrame, encode_frames, encode_tcp, split_frames
from resolver.handle.requests import RequestProcessor
from resolver.handle.server import envelope_error, respond


class NativeHttpAnswerer:
    """Answers one HTTP body of Handle messages (see the module docstring).

    Requests per client are limited by the HTTP front end (one message per POST).
    """

    def __init__(self, processor: RequestProcessor) -> None:
        self.processor = processor

    async def __call__(self, body: bytes) -> bytes:
        """The response bytes for the request ``body`` (its first frame)."""
        if body[:1] in (b"\n", b"\r"):
            body = body[1:]
        try:
            env, data = next(split_frames(body, self.processor.limits.max_message_size),
                             (Envelope(0), None))
        except BadEnvelope:
            return _error(Envelope(0), "Invalid message length")
        except TruncatedFrame as exc:
            return _error(exc.envelope, str(exc))
        if data is None:
            return _error(env, "Invalid message length")
        try:
            request = await self.processor.decode(env, data)
        except ProtocolError as exc:
            return encode_tcp(envelope_error(env, exc.response_code, str(exc)))
        return encode_frames(await respond(self.processor, request))


def _error(env: Envelope, text: str) -> bytes:
    return encode_tcp(envelope_error(env, RC_PROTOCOL_ERROR, text))
