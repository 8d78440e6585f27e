"""Issue 18 F16 (certify): a request for a signed answer costs a signature (about 7 plain
answers of CPU on the loop), so it spends CERTIFY_COST of the client's rate budget; a
client cannot make the node sign more than its budget allows.  Counted: signatures made."""

from __future__ import annotations

import asyncio

from protocol.constants import RC_SERVER_TOO_BUSY, RC_SUCCESS
from protocol.message import Message
from resolver.core.ratelimit import RateLimiter
from resolver.core.service import ResolutionService
from resolver.handle.server import CERTIFY_COST, run_handle_server
from tests.resolver.handle.test_handle_server import SERVER_KEY
from tests.resolver.test_abuse import HOST, SMALL, _request, _tcp_ask, service  # noqa: F401

BURST = 2 * CERTIFY_COST


def _certified(request_id: int) -> Message:
    request = _request(SMALL, request_id)
    request.certify = True
    return request


async def _codes(served: ResolutionService, certify: bool) -> list[tuple[int, bool]]:
    """(response code, signed?) of 2 x BURST requests over one TCP connection."""
    server = await run_handle_server(served, HOST, 0, private_key=SERVER_KEY,
                                     rate_limiter=RateLimiter(0.001, BURST))
    try:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        answers = []
        for i in range(1, 2 * BURST + 1):
            request = _certified(i) if certify else _request(SMALL, i)
            answer = await _tcp_ask(reader, writer, request)
            answers.append((answer.response_code, answer.signature is not None))
        writer.close()
    finally:
        await server.close()
    return answers


async def test_certified_answers_spend_the_budget_of_a_signature(
    service: ResolutionService,  # noqa: F811
) -> None:
    plain = await _codes(service, certify=False)
    signed = await _codes(service, certify=True)
    assert [code for code, _ in plain].count(RC_SUCCESS) == BURST
    signatures = sum(1 for code, sig in signed if code == RC_SUCCESS and sig)
    assert signatures == BURST // CERTIFY_COST  # not BURST: each one cost CERTIFY_COST
    assert all(code in (RC_SUCCESS, RC_SERVER_TOO_BUSY) for code, _ in signed)
