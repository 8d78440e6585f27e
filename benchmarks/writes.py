"""Write rates: creates over the Handle protocol and over REST, and ``idnode import``.

Creates run one at a time, as a batch client sends them, against the node or a
peer (another Handle server, e.g. CNRI's):

* **Handle protocol**: a Handle session (DH setup naming the writer, as CNRI's
  resolver does) over TCP, authenticated once with the writer's secret key (the
  first create is challenged and answered), every later create carrying only the
  session's MAC.  The session outlives its connections, as in CNRI's clients
  (``GenericBatch`` included): one connection is kept while the server keeps it
  open (idnode does), and when the server closes it after an answer (CNRI answers
  one message per connection) the next message goes on a new connection with the
  same session id and MAC key;
* **REST**: ``PUT /api/handles/{handle}`` on one keep-alive connection in a REST
  session (``POST /api/sessions``, authenticated once with an HMAC of the
  nonce by the same secret key, then ``Authorization: Handle sessionId=...``),
  over http or https (a peer such as CNRI takes credentials over HTTPS only).

Each record is a URL and an HS_ADMIN, the record of issue 17's comparison.

Imports run ``idnode import`` on a fresh SQLite node: JSON Lines of demo
products (:func:`registry.demo.generate`: ~15-20 values, a template that is
checked, trace links) and a plain CSV (a URL and an EMAIL row per handle).
The rate is the command's own figure (rows, i.e. records for JSON Lines and
CSV rows for CSV, over its import time, without the interpreter's start); the
CPU column is the command's CPU time per row over the same span.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from benchmarks.processes import BenchError, run_idnode
from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.bodies import SessionSetupRequest, SessionSetupResponse, ValuesRequest
from protocol.constants import (
    KEY_EXCHANGE_DH,
    OC_CREATE_HANDLE,
    OC_SESSION_SETUP,
    RC_AUTHENTICATION_NEEDED,
    RC_SUCCESS,
    TYPE_HS_ADMIN,
    response_code_name,
)
from protocol.credential import sign_message_mac
from protocol.dh_groups import EXPONENT_BITS, GENERATOR, MODP_1024
from protocol.framing import encode_tcp, read_tcp_frame
from protocol.message import Message, decode_message
from protocol.public_key import DHKeyNumbers, decode_key_numbers, encode_key_numbers
from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from protocol.wire import Reader
from resolver.core.client import MAX_RESPONSE_SIZE, SecretKeyAuth, _answer
from resolver.handle.key_exchange import ENCRYPT_ALG_AES

#: the session's MAC key: the first 32 octets of the DH secret (AES-256, CNRI's choice)
SESSION_KEY_BYTES = 32
TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    """An enterprise's admin identity and secret key, and the prefix it writes under."""

    handle: str
    index: int
    secret: str = field(repr=False)  # never in a log line or a traceback's locals
    prefix: str

    @classmethod
    def of_enterprise(cls, data_dir: Path, code: str, prefix: str,
                      env: dict[str, str]) -> Credentials:
        """New credentials of enterprise ``code`` (``idnode enterprise credentials``)."""
        out = json.loads(run_idnode(data_dir, "enterprise", "credentials", code, "--json",
                                    env=env))
        return cls(out["admin_handle"], int(out["admin_index"]), out["secret_key"], prefix)


@dataclass
class WriteRun:
    """The outcome of a run of creates: latencies (ms) of the successful ones."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    #: Handle protocol: TCP connections the session used (REST: 0, not counted)
    connections: int = 0

    def failed(self, reason: str) -> None:
        """Count a failed create (the first reason is kept)."""
        self.errors += 1
        self.first_error = self.first_error or reason


def record(handle: str, who: Credentials) -> tuple[HandleValue, ...]:
    """A URL and an HS_ADMIN naming ``who``."""
    admin = encode_admin_record(AdminRecord(who.handle, who.index))
    return (HandleValue(1, "URL", f"https://example.com/{handle}".encode()),
            HandleValue(100, TYPE_HS_ADMIN, admin))


def names(who: Credentials, tag: str, count: int) -> list[str]:
    """``count`` new handle names under ``who.prefix``."""
    return [f"{who.prefix}/W-{tag}-{i:07d}" for i in range(count)]


# --- Handle protocol ---------------------------------------------------------------


class HandleSession:
    """A Handle session over TCP, kept across connections as a Handle client keeps it:
    the session (id, MAC key, counter) is the client's, a connection only carries it.

    A connection is reused while the server keeps it open.  A server that closes it
    after each answer (CNRI's TCP interface) is met with a new connection for the
    next message, found closed either before sending (end of stream already seen) or
    by the send: a kept connection that ends before a single byte of the answer came
    back was closed before the server read the message, which then goes again on a
    new connection (with a fresh session counter: a server that did read it would
    take the same counter as a replay).  A fresh connection that fails is an error.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        #: how many TCP connections were opened (1: the server kept the first open)
        self.connections = 0
        self.session_id = 0
        self.key = b""
        self.counter = 0
        self.request_id = 0

    @classmethod
    async def open(cls, host: str, port: int,
                   identity: tuple[str, int] = ("", 0)) -> HandleSession:
        """A session with the server at ``host``:``port`` for ``identity`` (see
        :meth:`setup`)."""
        session = cls(host, port)
        try:
            response = await session.setup(identity)
        except BaseException:
            session.close()
            raise
        if response.response_code != RC_SUCCESS:
            session.close()
            raise BenchError(f"session setup with {host}:{port}: "
                             f"{response_code_name(response.response_code)}")
        return session

    def close(self) -> None:
        """Close the current connection (the session itself stays the client's)."""
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    def next_id(self) -> int:
        """A fresh request id."""
        self.request_id += 1
        return self.request_id

    async def setup(self, identity: tuple[str, int] = ("", 0), *,
                    certify: bool = False) -> Message:
        """DH key agreement (RFC 2409 group 2, as Java clients send), naming ``identity``
        (handle, index) as CNRI's resolver does; the server's answer (the session is
        open when it succeeded)."""
        x = secrets.randbits(EXPONENT_BITS) | 1
        mine = encode_key_numbers(DHKeyNumbers(p=MODP_1024, g=GENERATOR,
                                               y=pow(GENERATOR, x, MODP_1024)))
        body = SessionSetupRequest(KEY_EXCHANGE_DH, 600, identity[0], identity[1], mine)
        request = Message(OC_SESSION_SETUP, body=body)
        request.request_id, request.certify = self.next_id(), certify
        response = await self.send(request, sign=False)
        if response.response_code == RC_SUCCESS and isinstance(response.body,
                                                               SessionSetupResponse):
            reader = Reader(response.body.data)
            if reader.i32() != ENCRYPT_ALG_AES:
                raise ValueError("session setup: the server chose a cipher other than AES")
            theirs = decode_key_numbers(reader.rest())
            if not isinstance(theirs, DHKeyNumbers):
                raise ValueError("session setup: the server sent no DH key")
            shared = pow(theirs.y, x, MODP_1024).to_bytes(128, "big").lstrip(b"\0")
            self.key, self.session_id = shared[:SESSION_KEY_BYTES], response.session_id
        return response

    async def _streams(self) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], bool]:
        """The connection to send on, and whether it is new: a kept one unless the
        server has ended it."""
        if self.streams is not None and self.streams[0].at_eof():
            self.close()
        if self.streams is not None:
            return self.streams, False
        self.streams = await asyncio.open_connection(self.host, self.port, limit=2**20)
        self.connections += 1
        return self.streams, True

    async def send(self, msg: Message, *, sign: bool = True) -> Message:
        """Send ``msg`` (with the session's MAC unless ``sign`` is false); the answer."""
        while True:
            (reader, writer), new = await self._streams()
            if sign:
                msg.session_id = self.session_id
                self.counter += 1
                sign_message_mac(msg, self.key, self.counter)
            try:
                writer.write(encode_tcp(msg))
                await writer.drain()
                first = await reader.readexactly(1)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                if new:
                    raise BenchError(f"{self.host}:{self.port} closed a new connection "
                                     f"without answering: {exc!r}") from None
                continue  # closed before it read this message: again on a new connection
            try:
                env, data = await read_tcp_frame(reader, MAX_RESPONSE_SIZE, first)
            except BaseException:
                self.close()
                raise
            return decode_message(env, data)

    async def create(self, handle: str, values: Sequence[HandleValue],
                     auth: SecretKeyAuth) -> int:
        """Create ``handle``; answers a challenge with ``auth``; the response code."""
        request = Message(OC_CREATE_HANDLE, body=ValuesRequest(handle, tuple(values)),
                          request_id=self.next_id())
        response = await self.send(request)
        if response.response_code == RC_AUTHENTICATION_NEEDED:
            answer = _answer(request, response, auth)
            answer.request_id = self.next_id()
            response = await self.send(answer, sign=False)
        return response.response_code


async def handle_creates(host: str, port: int, who: Credentials,
                         handles: Sequence[str]) -> WriteRun:
    """Create ``handles`` one after another in one Handle session set up for ``who``
    (as CNRI's resolver does for an authenticated client: CNRI challenges every request
    of a session set up without an identity, and only the first of one with it)."""
    auth = SecretKeyAuth(who.handle, who.index, who.secret.encode())
    session = await HandleSession.open(host, port, (who.handle, who.index))
    run = WriteRun()
    started = time.perf_counter()
    try:
        for handle in handles:
            sent = time.perf_counter()
            async with asyncio.timeout(TIMEOUT):
                code = await session.create(handle, record(handle, who), auth)
            if code == RC_SUCCESS:
                run.latencies.append((time.perf_counter() - sent) * 1000)
            else:
                run.failed(f"{handle}: {response_code_name(code)}")
    finally:
        run.seconds = time.perf_counter() - started
        run.connections = session.connections
        session.close()
    return run


# --- REST --------------------------------------------------------------------------


async def _rest_session(http: aiohttp.ClientSession, who: Credentials) -> str:
    """A REST session authenticated with ``who``'s secret key; its id."""
    async with http.post("/api/sessions") as response:
        if response.status not in (200, 201):
            raise BenchError(f"REST session at {response.url}: HTTP {response.status}")
        body = await response.json(content_type=None)
    session_id, nonce = body["sessionId"], base64.b64decode(body["nonce"])
    cnonce = os.urandom(16)
    mac = hmac.new(who.secret.encode(), nonce + cnonce, hashlib.sha256).digest()
    header = (f'Handle sessionId="{session_id}", id="{who.index}:{who.handle}", '
              f'type="HS_SECKEY", cnonce="{base64.b64encode(cnonce).decode()}", '
              f'alg="HMAC-SHA256", signature="{base64.b64encode(mac).decode()}"')
    async with http.put("/api/sessions/this", headers={"Authorization": header}) as response:
        if response.status != 200:
            raise BenchError(f"REST session as {who.index}:{who.handle} at {response.url}: "
                             f"HTTP {response.status} {await response.text()}")
    return str(session_id)


async def rest_creates(base_url: str, who: Credentials, handles: Sequence[str], *,
                       verify_tls: bool = True) -> WriteRun:
    """``PUT`` ``handles`` one after another in one authenticated REST session at
    ``base_url`` (``http://HOST:PORT`` or ``https://...``; ``verify_tls`` false takes
    any certificate, e.g. a peer's self-signed one on loopback)."""
    run = WriteRun()
    connector = aiohttp.TCPConnector(limit=1, ssl=verify_tls)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(base_url.rstrip("/"), connector=connector,
                                     timeout=timeout) as http:
        headers = {"Authorization": f'Handle sessionId="{await _rest_session(http, who)}"',
                   "Content-Type": "application/json"}
        started = time.perf_counter()
        for handle in handles:
            body = orjson.dumps([value_to_json(v) for v in record(handle, who)])
            sent = time.perf_counter()
            async with http.put(f"/api/handles/{handle}", data=body,
                                headers=headers) as response:
                await response.read()
                if response.status in (200, 201):
                    run.latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    run.failed(f"{handle}: HTTP {response.status}")
        run.seconds = time.perf_counter() - started
    return run


# --- imports -----------------------------------------------------------------------


def demo_jsonl(path: Path, products: int, page_url: str) -> int:
    """Write the demo records of ``products`` products as JSON Lines; how many records."""
    from registry.demo import generate  # the generator pulls in the templates

    count = 0
    with path.open("wb") as out:
        for name, values in generate(products, page_url=page_url):
            out.write(orjson.dumps({"handle": name,
                                    "values": [value_to_json(v) for v in values]}) + b"\n")
            count += 1
    return count


def plain_csv(path: Path, rows: int, prefix: str) -> int:
    """Write ``rows`` CSV rows (a URL and an EMAIL per handle); how many rows."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("handle", "index", "type", "data"))
        for i in range(rows):
            handle = f"{prefix}/CSV-{i // 2:08d}"
            writer.writerow((handle, 1, "URL", f"https://example.com/{handle}") if i % 2 == 0
                            else (handle, 2, "EMAIL", "support@example.com"))
    return rows


@dataclass(frozen=True)
class ImportRun:
    """What ``idnode import`` reported: rows done, rejected, seconds of import and the
    CPU seconds of its process over them (every thread: the figure that moves least on
    a shared machine)."""

    rows: int
    rejected: int
    seconds: float
    cpu_seconds: float
    #: how many processes imported (``idnode import --jobs``, by default one a core)
    processes: int = 1

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def run_import(data_dir: Path, source: Path, env: dict[str, str]) -> ImportRun:
    """``idnode import SOURCE --json`` on ``data_dir``."""
    out = json.loads(run_idnode(data_dir, "import", str(source), "--json", env=env,
                                timeout=1800.0))
    return ImportRun(int(out["rows_done"]) - int(out["resumed_from"]), int(out["rejected"]),
                     float(out["seconds"]), float(out["cpu_seconds"]),
                     int(out.get("processes", 1)))
