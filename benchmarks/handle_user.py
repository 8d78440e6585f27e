"""Locust users that speak the Handle protocol: resolvers over UDP and TCP, and a writer.

Each request is reported through ``environment.events.request`` with
``request_type`` ``HDL-UDP``, ``HDL-TCP`` or ``HDL-WRITE`` and the workload
kind (``hit``, ``miss``, ``cross``; ``create``, ``modify``) as name; a UDP
request the server answered with "use TCP" (RC_ERROR) is repeated over a new
TCP connection, as Handle clients do, and named ``<kind>+tcp``.  A
resolution counts as failed when its response code is not the expected one
(SUCCESS for a stored or delegated handle, HANDLE_NOT_FOUND for a miss).

Sockets are plain (gevent-patched) sockets and responses are read with
:mod:`benchmarks.hdl_wire`, which keeps Locust's own cost per request low.
The writer uses the project's async client (:mod:`resolver.core.client`) with the
node admin's key; its coroutines run on one asyncio loop per Locust process,
itself run by a greenlet (gevent's patched selectors keep it cooperative).

Users read the workload and target from Locust's parsed options (added by
the locustfile): ``--hdl-host``, ``--hdl-port``, ``--bench-*``, ``--admin-key``;
without ``--bench-keys`` the locustfile provides identifiers found by
:mod:`benchmarks.node_keys` (:func:`provide_keys`).
Importing this module is only safe inside Locust (gevent monkey-patching).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import gevent
from locust import User, task

from benchmarks.hdl_wire import (
    EXPECTED_CODE,
    USE_TCP_CODE,
    UdpResponses,
    resolution_datagram,
    response_code,
    tcp_resolve_frame,
)
from benchmarks.workload import KeyFile, Workload, WorkloadSpec
from protocol.key_types import handle_key_types_text
from protocol.values import HandleValue
from registry.trust.keys import load_handle_signing_key
from resolver.core.client import HandleClient, PublicKeyAuth

ADMIN_HANDLE = "0.NA/88.118"
ADMIN_INDEX = 300
WRITE_PREFIX = "88.118.8"
WRITE_TIMEOUT = 15.0
_user_numbers = itertools.count()
_keys: dict[str, KeyFile] = {}
_loops: list[asyncio.AbstractEventLoop] = []


class AnswerError(Exception):
    """A response with a code other than the one the workload expected."""


def provide_keys(name: str, keys: KeyFile) -> None:
    """Use ``keys`` for the key file option value ``name`` (``""``: none given)."""
    _keys[name] = keys


def workload_for(user: User) -> Workload:
    """This user's identifier stream (user ``i`` of ``-u`` users)."""
    opts = user.environment.parsed_options
    spec = WorkloadSpec(**{name: getattr(opts, "bench_" + name)
                           for name in WorkloadSpec.__dataclass_fields__})
    if spec.keys not in _keys:
        _keys[spec.keys] = KeyFile.load(Path(spec.keys))
    users = max(1, int(getattr(opts, "num_users", 1) or 1))
    return Workload(spec, _keys[spec.keys], next(_user_numbers), users)


def tcp_exchange(sock: socket.socket, handle: str, request_id: int) -> tuple[int, int]:
    """Resolve over a connected TCP socket; (response code, response bytes)."""
    frame = tcp_resolve_frame(sock, handle, request_id)
    return response_code(frame), len(frame)


class _HandleResolver(User):
    """Common part of the UDP and TCP resolvers."""

    abstract = True
    request_type = ""
    timeout = 2.0

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.address = (opts.hdl_host, int(opts.hdl_port))
        self.work = workload_for(self)
        self.ids = itertools.count(random.getrandbits(30))

    def exchange(self, handle: str, request_id: int) -> tuple[int, int, bool]:
        """Send one request; (response code, response bytes, whether TCP was needed)."""
        raise NotImplementedError

    @task
    def resolve(self) -> None:
        """One resolution, reported to Locust."""
        kind, handle = next(self.work)
        started = time.perf_counter()
        code, size, fell_back = 0, 0, False
        problem: Exception | None = None
        try:
            code, size, fell_back = self.exchange(handle, next(self.ids) & 0x7FFFFFFF)
            if code != EXPECTED_CODE[kind]:
                problem = AnswerError(f"{kind}: response code {code}")
        except OSError as exc:
            problem = exc
            self.reset()
        self.environment.events.request.fire(
            request_type=self.request_type, name=kind + ("+tcp" if fell_back else ""),
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=size, exception=problem, context={})

    def reset(self) -> None:
        """Forget a connection after a failure."""


class HandleUdpUser(_HandleResolver):
    """Resolves over UDP, one socket per user; pieces are counted, not decoded."""

    abstract = True
    request_type = "HDL-UDP"

    def on_start(self) -> None:
        super().on_start()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.address)

    def on_stop(self) -> None:
        self.sock.close()

    def exchange(self, handle: str, request_id: int) -> tuple[int, int, bool]:
        responses = UdpResponses(lambda rid: rid == request_id)
        self.sock.send(resolution_datagram(handle, request_id))
        while True:
            done = responses.add(self.sock.recv(65535))
            if done is not None:
                break
        if done.response_code != USE_TCP_CODE:
            return done.response_code, done.size, False
        with socket.create_connection(self.address, timeout=self.timeout) as sock:
            return (*tcp_exchange(sock, handle, request_id), True)


class HandleTcpUser(_HandleResolver):
    """Resolves over one kept-open TCP connection per user."""

    abstract = True
    request_type = "HDL-TCP"
    sock: socket.socket | None = None

    def on_stop(self) -> None:
        self.reset()

    def reset(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, handle: str, request_id: int) -> tuple[int, int, bool]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
        return (*tcp_exchange(self.sock, handle, request_id), False)


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process's asyncio loop, started in a greenlet on first use."""
    if not _loops:
        loop = asyncio.new_event_loop()
        gevent.spawn(loop.run_forever)
        _loops.append(loop)
    return _loops[0]


class HandleWriterUser(User):
    """Creates handles under 88.118.8 and modifies them, as the node admin."""

    abstract = True

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.server = (opts.hdl_host, int(opts.hdl_port))
        key = load_handle_signing_key(Path(opts.admin_key).read_bytes())
        if key is None:
            raise TypeError(f"{opts.admin_key}: the Handle protocol signs with "
                            f"{handle_key_types_text()} keys")
        self.auth = PublicKeyAuth(ADMIN_HANDLE, ADMIN_INDEX, key)
        self.client = HandleClient(timeout=5.0, attempts=1)
        self.tag = f"{random.getrandbits(32):08x}-{next(_user_numbers)}"
        self.created: list[str] = []

    def _timed(self, name: str, action: Coroutine[Any, Any, None]) -> bool:
        started = time.perf_counter()
        problem: Exception | None = None
        try:
            asyncio.run_coroutine_threadsafe(action, shared_loop()).result(WRITE_TIMEOUT)
        except Exception as exc:  # reported to Locust, which counts the failure
            problem = exc
        self.environment.events.request.fire(
            request_type="HDL-WRITE", name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0, exception=problem, context={})
        return problem is None

    @task(1)
    def create(self) -> None:
        """Create a new handle with a URL and an EMAIL value."""
        handle = f"{WRITE_PREFIX}/BENCH-{self.tag}-{len(self.created):06d}"
        values = [HandleValue(1, "URL", f"http://127.0.0.1/{handle}".encode()),
                  HandleValue(2, "EMAIL", b"bench@example.invalid")]
        if self._timed("create", self.client.create_handle(
                handle, values, server=self.server, auth=self.auth)):
            self.created.append(handle)

    @task(2)
    def modify(self) -> None:
        """Replace the URL of a handle this user created."""
        if not self.created:
            self.create()
            return
        handle = random.choice(self.created)
        value = HandleValue(1, "URL", f"http://127.0.0.1/{handle}?v={time.time()}".encode())
        self._timed("modify", self.client.modify_values(
            handle, [value], server=self.server, auth=self.auth))
