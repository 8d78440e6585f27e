"""Abuse limits of the HTTP front end: per-client rate, work in flight, slow bodies.

:class:`HttpGuard` is installed by :func:`resolver.http.api.make_app` as the
innermost middleware and by :func:`resolver.http.api.run_http_server` as the
connection keep-alive timeout:

* a client over its rate (:mod:`resolver.core.ratelimit`) gets 429 with
  ``Retry-After`` and ``{"responseCode": 3}`` (RC_SERVER_TOO_BUSY);
* at most ``max_inflight`` requests per process are worked on at once, more
  get 503 with ``responseCode`` 3;
* a request body must arrive within ``read_timeout`` seconds (else 408 and the
  connection is closed); the request line and headers must arrive within
  ``read_timeout`` of the connection opening or of the previous response
  (aiohttp's keep-alive timer, which new bytes do not reset), so a client that
  trickles either is cut off.  Body size is bounded by ``client_max_size``,
  header size by aiohttp's line and field limits;
* at most ``max_connections`` connections are open at once, at most
  ``max_connections_per_client`` of them from one client (0: no such cap),
  and a TLS handshake must end within ``tls_handshake_timeout`` seconds
  (:mod:`resolver.http.connections`, installed by ``run_http_server``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from protocol.constants import RC_PROTOCOL_ERROR, RC_SERVER_TOO_BUSY
from resolver.core.ratelimit import UNLIMITED, RateLimiter
from resolver.http.pages import RESPONSE_CODE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: monitoring endpoints are never rate limited
EXEMPT = frozenset({"/healthz", "/metrics"})


@dataclass
class HttpGuard:
    """The HTTP front end's abuse limits (see the module docstring)."""

    limiter: RateLimiter = UNLIMITED
    read_timeout: float = 10.0
    max_inflight: int = 1024
    max_connections: int = 1024
    max_connections_per_client: int = 0
    tls_handshake_timeout: float = 10.0
    inflight: int = field(default=0, init=False)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse what is over a limit, read the body under a deadline, then serve."""
        if self.limiter.enabled and request.path not in EXEMPT:
            wait = self.limiter.seconds_until_allowed(request.remote or "")
            if wait:
                return refusal(429, RC_SERVER_TOO_BUSY, "rate limit exceeded", math.ceil(wait))
        if self.inflight >= self.max_inflight:
            return refusal(503, RC_SERVER_TOO_BUSY, "server too busy", 1)
        self.inflight += 1
        try:
            if request.can_read_body:
                try:
                    async with asyncio.timeout(self.read_timeout):
                        await request.read()  # kept by aiohttp for the handler
                except TimeoutError:
                    response = refusal(408, RC_PROTOCOL_ERROR, "request body too slow")
                    response.force_close()
                    return response
            return await handler(request)
        finally:
            self.inflight -= 1


def refusal(
    status: int, response_code: int, message: str, retry_after: int | None = None
) -> web.Response:
    """A JSON refusal in the REST API's error shape."""
    headers = {} if retry_after is None else {"Retry-After": str(max(1, retry_after))}
    response = web.Response(
        body=orjson.dumps({"responseCode": response_code, "message": message}),
        status=status,
        content_type="application/json",
        headers=headers,
    )
    response[RESPONSE_CODE] = response_code
    return response
