"""Plain REST reads of kept answers, answered where the connection's bytes arrive.

aiohttp spends most of a hot ``GET /api/handles/{handle}`` on itself (a request
object, routing, two middlewares, a response object, header assembly): about
twice what the kept body (:mod:`resolver.http.hot_rest`) leaves to do.
:class:`FastReads` looks at each chunk a connection receives before aiohttp
does (:class:`resolver.http.connections.GuardedSite` calls it) and answers it
itself only when the chunk is exactly one complete request of the simplest
form, for a handle whose kept body exists:

* ``GET /api/handles/NAME HTTP/1.1``, NAME of letters, digits and ``. - _ / :
  ~`` only (nothing to percent-decode or normalise: aiohttp would route the same
  NAME), no query string;
* headers that change nothing in the answer: none of ``Authorization``,
  ``Origin`` (CORS headers), ``If-None-Match`` (a 304), ``Connection``,
  ``Expect``, ``Upgrade``, ``Content-Length``, ``Transfer-Encoding``; every line
  a token name and a printable value (no folding), no name twice, and not more
  than :data:`MAX_HEADER_BYTES`;
* the client within its rate limit (the same limiter and budget as the
  guard's; over it, aiohttp answers with its 429).

The answer is the bytes aiohttp sends for the same response (the same
headers in the same order; a test compares them), counted in the metrics and
usage statistics as the ordinary way counts it, and the connection's idle
timer is pushed back as aiohttp does after a response.  Anything else goes to
aiohttp.  A connection comes back here only when what it gave aiohttp was
whole body-less requests (:func:`whole_request`: aiohttp's parser holds no
part of a request) and aiohttp has answered them all (:func:`idle`); else it
stays with aiohttp.  So answers never overtake each other, and no chunk is read
one way here and another way by aiohttp.

Hand-written because aiohttp offers no hook before its request machinery.
"""

from __future__ import annotations

import asyncio
import re
import time

from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE

from protocol.constants import RC_SUCCESS
from resolver.core.hot import HotAnswers
from resolver.core.metrics import Metrics
from resolver.core.ratelimit import RateLimiter, client_of
from resolver.http.hot_rest import FORM, KeptBody

#: the most header bytes a request answered here may have
MAX_HEADER_BYTES = 4096
_REQUEST_LINE = re.compile(rb"GET /api/handles/([A-Za-z0-9._~:/-]+) HTTP/1\.1\r\n")
_ANY_REQUEST_LINE = re.compile(rb"(?:GET|HEAD) /[\x21-\x7e]* HTTP/1\.1\r\n")
#: a header line aiohttp reads the same way: a token name, printable value
HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*")
#: header names (lower case) whose presence sends the request to aiohttp
_DECLINED = frozenset({
    b"authorization", b"origin", b"if-none-match", b"connection", b"expect", b"upgrade",
    b"content-length", b"transfer-encoding",
})
_END = b"\r\n\r\n"
#: aiohttp's RequestHandler attribute holding when an idle connection is closed
IDLE_UNTIL = "_next_keepalive_close_time"


def _headers_plain(data: bytes, start: int, end: int) -> bool:
    """Whether the header lines in ``data[start:end]`` are well formed, each name at
    most once, and none of them one of :data:`_DECLINED`."""
    names = set()
    for line in data[start:end].split(b"\r\n"):
        if HEADER_LINE.fullmatch(line) is None:
            return False
        header = line[:line.index(b":")].lower()
        if header in _DECLINED or header in names:
            return False
        names.add(header)
    return True


def simple_read(data: bytes) -> str | None:
    """The handle ``data`` asks for when it is exactly one request of the form
    answered here (see the module docstring), else None."""
    end = data.find(_END)
    if end < 0 or end + 4 != len(data) or end > MAX_HEADER_BYTES:
        return None
    match = _REQUEST_LINE.match(data)
    if match is None:
        return None
    name = match.group(1)
    if b"//" in name or b"/." in name or name.endswith(b"/"):
        return None
    return name.decode("ascii") if _headers_plain(data, match.end(), end) else None


def whole_request(data: bytes) -> bool:
    """Whether ``data`` is exactly one complete request without a body (after it,
    aiohttp's parser holds nothing: the connection may come back here)."""
    end = data.find(_END)
    if end < 0 or end + 4 != len(data) or end > MAX_HEADER_BYTES:
        return False
    match = _ANY_REQUEST_LINE.match(data)
    return match is not None and _headers_plain(data, match.end(), end)


def idle(inner: object) -> bool:
    """Whether aiohttp's protocol ``inner`` has answered everything it was given and
    waits for the next request (its private state, read defensively: anything
    unexpected counts as busy)."""
    waiter = getattr(inner, "_waiter", None)
    return (
        getattr(inner, "_request_in_progress", True) is False
        and not getattr(inner, "_messages", True)
        and isinstance(waiter, asyncio.Future)
        and not waiter.done()
    )


def response_head(kept: KeptBody) -> bytes:
    """Status line and headers of the 200 answer with ``kept``'s body, as aiohttp
    writes them for :func:`resolver.http.hot_rest.json_response`."""
    return (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"ETag: {kept.etag}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(kept.payload)}\r\n"
        f"Date: {rfc822_formatted_time()}\r\n"
        f"Server: {SERVER_SOFTWARE}\r\n\r\n"
    ).encode("ascii")


class FastReads:
    """Answers simple reads of kept bodies for one HTTP application."""

    def __init__(self, hot: HotAnswers, metrics: Metrics, limiter: RateLimiter,
                 frontend: str) -> None:
        self.hot = hot
        self.metrics = metrics
        self.limiter = limiter
        self.frontend = frontend  # the metrics name of the REST front end

    def answer(self, data: bytes, transport: asyncio.Transport, inner: object) -> bool:
        """Answer ``data`` on ``transport`` if it is a simple read of a kept body;
        whether it was answered (if not, ``data`` is aiohttp's to handle)."""
        started = time.perf_counter()
        handle = simple_read(data)
        if (handle is None or transport.is_closing() or not hasattr(inner, IDLE_UNTIL)
                or not idle(inner)):
            return False
        hot = self.hot
        answer = hot.lookup(handle)
        kept = None if answer is None else answer.renders.get((FORM, handle))
        if not isinstance(kept, KeptBody):
            return False
        limiter = self.limiter
        if limiter.enabled and limiter.seconds_until_allowed(
            client_of(transport.get_extra_info("peername"))
        ):
            return False
        transport.write(response_head(kept) + kept.payload)
        loop = asyncio.get_running_loop()
        setattr(inner, IDLE_UNTIL, loop.time() + getattr(inner, "keepalive_timeout", 0.0))
        hot.served(handle)
        self.metrics.observe_request(self.frontend, RC_SUCCESS, time.perf_counter() - started)
        return True

    def may_return(self, data: bytes) -> bool:
        """Whether, after aiohttp was given ``data``, the connection may come back
        here (:func:`whole_request`)."""
        return whole_request(data)
