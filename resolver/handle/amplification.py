"""UDP amplification cap for the Handle protocol.

A UDP answer may be at most ``factor`` times the size of the request it
answers (the request's envelope plus message).  Only a client whose address
is proven (:mod:`resolver.core.proofs`: it completed a TCP connection lately)
may draw more, up to ``floor`` bytes: like DNS's answers to a client with a
valid cookie, an answer of a few datagrams then needs no second round trip,
while a flood of spoofed tiny requests can never draw out more than
``factor`` times what it sends, whatever the floor.  A larger answer is not
sent: in its place goes one short RC_ERROR response ("too large for UDP, use
TCP") with the envelope's truncated flag set.  CNRI clients treat an RC_ERROR
on one interface as a failure and go on to the next preferred protocol (TCP);
so does :class:`resolver.core.client.HandleClient`.  If even that reply would
be over the budget, nothing is sent.  A factor of 0 turns the cap off.

:func:`within_budget` works on encoded datagrams, so pre-encoded answers
obey the same cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from protocol.bodies import error_body
from protocol.constants import RC_ERROR
from protocol.envelope import encode_envelope
from protocol.framing import encode_udp
from protocol.message import Message, encode_message

USE_TCP = "response too large for UDP: use TCP"


def answer_budget(request_size: int, factor: float, floor: int, *, proven: bool) -> float | None:
    """The most bytes a UDP answer to a request of ``request_size`` bytes may have
    (None: no cap).  The floor counts only for a ``proven`` client address."""
    if factor <= 0:
        return None
    budget = factor * request_size
    return max(budget, floor) if proven else budget


def within_budget(
    datagrams: Sequence[bytes], budget: float | None, short: Callable[[], bytes]
) -> list[bytes]:
    """``datagrams`` if they fit ``budget``, else ``short()`` if that fits, else nothing."""
    if budget is None or sum(map(len, datagrams)) <= budget:
        return list(datagrams)
    reply = short()
    return [reply] if len(reply) <= budget else []


def udp_datagrams(
    responses: Sequence[Message],
    request_size: int,
    factor: float,
    floor: int = 0,
    *,
    proven: bool = False,
) -> list[bytes]:
    """The datagrams to send for ``responses`` to a request of ``request_size``
    bytes: all of them if they fit :func:`answer_budget`, else the short use-TCP
    reply if that fits, else none."""
    datagrams = [d for response in responses for d in encode_udp(response)]
    if not responses:
        return datagrams
    budget = answer_budget(request_size, factor, floor, proven=proven)
    return within_budget(datagrams, budget, lambda: use_tcp_reply(responses[0]))


def use_tcp_reply(response: Message) -> bytes:
    """One datagram: an unsigned RC_ERROR in place of ``response``, truncated flag set."""
    short = Message(  # ``response``'s header but the code, the body, flags and credential
        op_code=response.op_code,
        response_code=RC_ERROR,
        body=error_body(USE_TCP),
        flags=0,
        site_info_serial=response.site_info_serial,
        recursion_count=response.recursion_count,
        expiration=response.expiration,
        request_id=response.request_id,
        session_id=response.session_id,
        major_version=response.major_version,
        minor_version=response.minor_version,
        suggest_major_version=response.suggest_major_version,
        suggest_minor_version=response.suggest_minor_version,
    )
    body = encode_message(short)
    return encode_envelope(short.envelope(len(body), truncated=True)) + body
