"""UDP amplification cap for the Handle protocol.

A UDP answer may be at most ``factor`` times the size of the request it
answers (the request's envelope plus message), or ``floor`` bytes whichever is
more: like DNS's 1232-byte answers, an answer of a few datagrams is always
allowed, so ordinary records need no second round trip, while a flood of
spoofed tiny requests cannot draw out large records.  A larger answer is not sent:
in its place goes one short RC_ERROR response ("too large for UDP, use TCP")
with the envelope's truncated flag set.  CNRI clients treat an RC_ERROR on one
interface as a failure and go on to the next preferred protocol (TCP); so does
:class:`resolver.core.client.HandleClient`.  If even that reply would be over the
budget, nothing is sent.  A factor of 0 turns the cap off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from protocol.bodies import error_body
from protocol.constants import RC_ERROR
from protocol.envelope import encode_envelope
from protocol.framing import encode_udp
from protocol.message import Message, encode_message

USE_TCP = "response too large for UDP: use TCP"


def udp_datagrams(
    responses: Sequence[Message], request_size: int, factor: float, floor: int = 0
) -> list[bytes]:
    """The datagrams to send for ``responses`` to a request of ``request_size``
    bytes: all of them if they fit max(``floor``, ``factor`` x ``request_size``),
    else the short use-TCP reply if that fits, else none."""
    datagrams = [d for response in responses for d in encode_udp(response)]
    if factor <= 0 or not responses:
        return datagrams
    budget = max(floor, factor * request_size)
    if sum(map(len, datagrams)) <= budget:
        return datagrams
    reply = use_tcp_reply(responses[0])
    return [reply] if len(reply) <= budget else []


def use_tcp_reply(response: Message) -> bytes:
    """One datagram: an unsigned RC_ERROR in place of ``response``, truncated flag set."""
    short = replace(
        response,
        response_code=RC_ERROR,
        body=error_body(USE_TCP),
        flags=0,
        request_digest=None,
        signature=None,
        encoded=None,
    )
    body = encode_message(short)
    return encode_envelope(replace(short.envelope(len(body)), truncated=True)) + body
