"""REST creates in a session, answered where the connection's bytes arrive.

A create over REST (``PUT /api/handles/NAME`` in a ``Handle`` session) spent
about a third of its CPU in aiohttp (request object, routing, two
middlewares, a response object, header assembly) and around it.
:class:`FastPuts` takes such a request before aiohttp does, as
:class:`resolver.http.fast_rest.FastReads` takes reads, when the chunk a
connection receives is exactly one complete request of this form:

* ``PUT /api/handles/NAME HTTP/1.1``, NAME as :mod:`resolver.http.fast_rest`
  reads it (nothing to percent-decode), no query string (no ``overwrite``,
  ``index``, ``mintNewSuffix``, ``pretty`` or ``callback``);
* ``Authorization: Handle sessionId="..."`` naming a session and proving
  nothing (no signature: a proof spends the session's nonce), on a channel
  that accepts credentials (TLS, or ``http_insecure_auth``);
* ``Content-Type`` JSON and ``Content-Length`` the body the chunk ends with;
  none of ``Origin``, ``Connection``, ``Expect``, ``Upgrade``,
  ``Transfer-Encoding``; header lines as fast reads want them;
* the client within its rate limit and the process within its requests in
  flight (the guard's, :class:`resolver.http.guard.HttpGuard`).

The request is then the REST API's own (:meth:`resolver.http.api.RestApi.put_now`:
the same body parsing, session, credential and HS_ADMIN checks, the same
create or replace, audit, change feed and cache invalidation) and its answer
the bytes aiohttp sends for it (a test compares them), counted in the
metrics as the ordinary way counts it.  Only a success is answered here: a
request the API refuses (bad body, unknown session, no permission, ...)
changed nothing, and goes to aiohttp as it came, which answers it the
ordinary way (its status, body and headers; the rate limit's token taken here
is given back, so it counts once); an unexpected error gets the front door's
500.  Chunks the connection receives
while a create is under way wait for its answer, then go the usual way, so
answers keep their order.

After aiohttp answered, a connection comes back here only when it gave aiohttp
exactly one whole request, its body included (:func:`whole_message`), and
aiohttp has answered everything (:func:`resolver.http.fast_rest.idle`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE

from protocol.constants import RC_ERROR, RC_SUCCESS
from resolver.core.metrics import Metrics
from resolver.core.ratelimit import client_of
from resolver.http.fast_rest import HEADER_LINE, IDLE_UNTIL, MAX_HEADER_BYTES, FastReads, idle
from resolver.http.guard import HttpGuard

#: the create of one request: (handle, body, Authorization) -> created (True), replaced
#: (False), or None when aiohttp is to answer it
PutNow = Callable[[str, bytes, str], Awaitable[bool | None]]

_PUT_LINE = re.compile(rb"PUT /api/handles/([A-Za-z0-9._~:/-]+) HTTP/1\.1\r\n")
_ANY_LINE = re.compile(rb"[A-Z]{3,7} /[\x21-\x7e]* HTTP/1\.1\r\n")
#: a bare session header (no parameter but ``sessionId``): the only form taken here
_SESSION_ONLY = re.compile(rb'Handle[ \t]+sessionId[ \t]*=[ \t]*"[A-Za-z0-9_.~+/=-]{1,200}"[ \t]*')
_JSON = re.compile(rb"application/json[ \t]*(;[\t\x20-\x7e]*)?", re.IGNORECASE)
#: header names (lower case) whose presence sends a request to aiohttp
_DECLINED = frozenset({b"origin", b"connection", b"expect", b"upgrade", b"transfer-encoding"})
_END = b"\r\n\r\n"
_STATUS_LINE = {True: b"HTTP/1.1 201 Created\r\n", False: b"HTTP/1.1 200 OK\r\n"}
_JSON_HEAD = (b"Content-Type: application/json; charset=utf-8\r\n"
              b"X-Content-Type-Options: nosniff\r\n")
#: the front door's answer to an unexpected error (``resolver.http.api._api_error``)
INTERNAL_ERROR_HEAD = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
INTERNAL_ERROR_BODY = orjson.dumps({"responseCode": RC_ERROR, "message": "Internal error"})
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimplePut:
    """A request of the form taken here: its handle, Authorization header and body."""

    handle: str
    authorization: str
    body: bytes


def _headers(data: bytes, start: int, end: int) -> dict[bytes, bytes] | None:
    """The header lines in ``data[start:end]`` by lower-cased name, when each is well
    formed, named once and not one of :data:`_DECLINED`; else None."""
    headers: dict[bytes, bytes] = {}
    for line in data[start:end].split(b"\r\n"):
        if HEADER_LINE.fullmatch(line) is None:
            return None
        name, _, value = line.partition(b":")
        name = name.lower()
        if name in _DECLINED or name in headers:
            return None
        headers[name] = value.strip(b" \t")
    return headers


def _whole(data: bytes, line: re.Pattern[bytes]) -> tuple[re.Match[bytes], dict[bytes, bytes],
                                                          int] | None:
    """The request line, headers and body start of ``data`` when it is exactly one
    request of ``line`` with the whole body its ``Content-Length`` gives, else None."""
    end = data.find(_END)
    if end < 0 or end > MAX_HEADER_BYTES:
        return None
    match = line.match(data)
    if match is None:
        return None
    headers = _headers(data, match.end(), end)
    if headers is None:
        return None
    length = headers.get(b"content-length", b"0")
    if not length.isdigit() or int(length) != len(data) - end - 4:
        return None
    return match, headers, end + 4


def simple_put(data: bytes) -> SimplePut | None:
    """What ``data`` asks when it is exactly one request of the form taken here (see
    the module docstring), else None."""
    whole = _whole(data, _PUT_LINE)
    if whole is None:
        return None
    match, headers, body_at = whole
    name = match.group(1)
    if b"//" in name or b"/." in name or name.endswith(b"/"):
        return None
    authorization = headers.get(b"authorization")
    content_type = headers.get(b"content-type")
    if (authorization is None or _SESSION_ONLY.fullmatch(authorization) is None
            or content_type is None or _JSON.fullmatch(content_type) is None):
        return None
    return SimplePut(name.decode("ascii"), authorization.decode("ascii"), data[body_at:])


def whole_message(data: bytes) -> bool:
    """Whether ``data`` is exactly one complete request, its body included (after it,
    aiohttp's parser holds nothing: the connection may come back here)."""
    return _whole(data, _ANY_LINE) is not None


def _dated(body: bytes) -> bytes:
    """The last headers of an answer with ``body`` (length, date, server) and the body."""
    return b"".join((
        f"Content-Length: {len(body)}\r\nDate: {rfc822_formatted_time()}\r\n"
        f"Server: {SERVER_SOFTWARE}\r\n\r\n".encode("ascii"),
        body,
    ))


def response_bytes(handle: str, created: bool) -> bytes:
    """The answer aiohttp sends for a successful ``PUT``: 201 (created) or 200
    (replaced) with ``{"responseCode": 1, "handle": ...}`` (``RestApi.json``)."""
    body = orjson.dumps({"responseCode": RC_SUCCESS, "handle": handle})
    return _STATUS_LINE[created] + _JSON_HEAD + _dated(body)


class FastPuts:
    """Fast reads (:class:`FastReads`) and REST creates in a session (see the module
    docstring) for one HTTP application: the site's fast path
    (:class:`resolver.http.connections.FastPath`)."""

    def __init__(self, reads: FastReads, put_now: PutNow, guard: HttpGuard,
                 metrics: Metrics, frontend: str, *, insecure_auth: bool) -> None:
        self.reads = reads
        self.put_now = put_now
        self.guard = guard
        self.metrics = metrics
        self.frontend = frontend
        self.insecure_auth = insecure_auth

    def answer(self, data: bytes, transport: asyncio.Transport,
               inner: object) -> bool | asyncio.Task[bool]:
        """Answer ``data`` itself (True), start answering it (the task: False from it
        gives ``data`` to aiohttp after all), or leave it to aiohttp (False)."""
        if not data.startswith(b"PUT "):
            return self.reads.answer(data, transport, inner)
        put = simple_put(data)
        if (put is None or transport.is_closing() or not hasattr(inner, IDLE_UNTIL)
                or not idle(inner)):
            return False
        if not (self.insecure_auth or transport.get_extra_info("sslcontext") is not None):
            return False  # credentials are ignored here: aiohttp says so
        guard = self.guard
        if guard.inflight >= guard.max_inflight:
            return False
        limiter = guard.limiter
        client = client_of(transport.get_extra_info("peername")) if limiter.enabled else ""
        if limiter.enabled and limiter.seconds_until_allowed(client):
            return False
        loop = asyncio.get_running_loop()
        setattr(inner, IDLE_UNTIL, loop.time() + getattr(inner, "keepalive_timeout", 0.0))
        guard.inflight += 1
        return loop.create_task(self._put(put, transport, inner, client, time.perf_counter()))

    async def _put(self, put: SimplePut, transport: asyncio.Transport, inner: object,
                   client: str, started: float) -> bool:
        code = RC_SUCCESS
        try:
            created = await self.put_now(put.handle, put.body, put.authorization)
        except Exception:  # what the REST API's front door answers for it
            _log.exception("http: unhandled error serving PUT /api/handles/%s", put.handle)
            code, answer = RC_ERROR, INTERNAL_ERROR_HEAD + _dated(INTERNAL_ERROR_BODY)
        else:
            if created is None:
                self.guard.limiter.give_back(client)  # aiohttp's guard counts it
                return False
            answer = response_bytes(put.handle, created)
        finally:
            self.guard.inflight -= 1
        if not transport.is_closing():
            transport.write(answer)
            loop = asyncio.get_running_loop()
            setattr(inner, IDLE_UNTIL, loop.time() + getattr(inner, "keepalive_timeout", 0.0))
        self.metrics.observe_request(self.frontend, code, time.perf_counter() - started)
        return True

    def may_return(self, data: bytes) -> bool:
        """Whether, after aiohttp was given ``data``, the connection may come back here."""
        return whole_message(data)
