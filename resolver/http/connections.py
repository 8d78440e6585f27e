"""The HTTP front end's listening site: connection caps and a TLS handshake deadline.

aiohttp's ``TCPSite`` hands every accepted connection to its protocol at once
and lets ``asyncio`` run a TLS handshake for up to 60 seconds: a client that
opens connections and sends nothing (or never starts TLS) holds them that
long, with no cap on how many (issue 18 F7).  :class:`GuardedSite` listens
itself and puts :class:`_Gated` in front of aiohttp's protocol:

* a connection over the :class:`resolver.core.connections.ConnectionGate`
  caps (in all, per client) is closed at once, before any TLS work;
* with TLS, the site accepts connections itself (:class:`_TlsAcceptor`): the
  gate sees the client's address first, then the accepted socket goes to
  :meth:`asyncio.loop.connect_accepted_socket` with the TLS context and
  ``handshake_timeout``; a client that does not finish the handshake in time
  is cut off.  (Starting TLS later on a transport the loop already reads from,
  with ``start_tls``, lost the ClientHello under uvloop, which delivers data
  even when reading is paused in ``connection_made``: most handshakes then
  timed out);
* everything else goes to aiohttp's protocol unchanged (the gate only
  forwards; a ``fast`` answerer, :mod:`resolver.http.fast_rest` and
  :mod:`resolver.http.fast_put`, may answer a chunk before that, at once or
  later: chunks that come meanwhile wait, in order), and the connection's slot
  is given back when it ends.

Hand-written because neither aiohttp nor asyncio offers a per-client cap, and
an accepted connection's peer is known only to its protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Protocol, cast

from aiohttp import web

from resolver.core.connections import ConnectionGate, bind_socket
from resolver.core.ratelimit import client_of

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.Protocol]
#: errors a failed or abandoned TLS handshake ends with
_HANDSHAKE_ERRORS = (OSError, TimeoutError, ssl.SSLError, ConnectionError)


class FastPath(Protocol):
    """Answers some chunks before aiohttp (:class:`resolver.http.fast_rest.FastReads`)."""

    def answer(self, data: bytes, transport: asyncio.Transport,
               inner: object) -> bool | asyncio.Future[bool]:
        """Answer the chunk ``data`` itself (True), leave it to aiohttp (False), or
        answer it later (a future: False from it gives ``data`` to aiohttp then)."""

    def may_return(self, data: bytes) -> bool:
        """Whether, after aiohttp was given ``data``, later chunks may be answered here."""


class _Gated(asyncio.Protocol):
    """One connection: admitted by the gate (or closed), then forwarded to aiohttp.

    ``key`` is the gate's slot when the connection was admitted before it was
    made (TLS: at accept); else ``connection_made`` asks the gate."""

    def __init__(
        self,
        factory: ProtocolFactory,
        gate: ConnectionGate,
        fast: FastPath | None = None,
        key: str | None = None,
    ) -> None:
        self.factory = factory
        self.fast = fast
        self.transport: asyncio.Transport | None = None
        self.gate = gate
        self.inner: asyncio.Protocol | None = None
        self.key = key
        self.admitted = key is not None
        #: chunks received while a fast answer is under way (None: none is)
        self.waiting: list[bytes] | None = None
        self.answering: asyncio.Future[bool] | None = None
        self.lost = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # a TCP or TLS transport
        if not self.admitted:
            self.key = self.gate.admit(client_of(transport.get_extra_info("peername")))
            if self.key is None:
                transport.abort()
                return
        inner = self.factory()
        self.inner = inner
        self.transport = transport
        inner.connection_made(transport)

    def release(self) -> None:
        """Give the connection's slot back (once)."""
        if self.key is not None:
            self.gate.release(self.key)
            self.key = None

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        if inner is None:
            return  # refused by the gate: closing
        if self.waiting is not None:
            self.waiting.append(data)  # after the answer under way
            return
        fast = self.fast
        if fast is not None:
            assert self.transport is not None
            answered = fast.answer(data, self.transport, inner)
            if answered is True:
                return
            if answered is not False:
                self.waiting, self.answering = [], answered  # held until it ends
                answered.add_done_callback(lambda done: self._answered(data, done))
                return
            if not fast.may_return(data):
                self.fast = None  # aiohttp has this connection from now on
        inner.data_received(data)

    def _answered(self, data: bytes, done: asyncio.Future[bool]) -> None:
        """A fast answer of ``data`` ended: unless it answered, aiohttp gets ``data``;
        then the chunks that came meanwhile go the usual way, in order."""
        waiting, self.waiting, self.answering = self.waiting or [], None, None
        if self.lost or self.inner is None or done.cancelled():  # closed, or shutting down
            return
        answered = done.exception() is None and done.result()
        if not answered:
            if done.exception() is not None:
                log.error("fast answer failed", exc_info=done.exception())
            if self.fast is not None and not self.fast.may_return(data):
                self.fast = None
            self.inner.data_received(data)
        for chunk in waiting:
            self.data_received(chunk)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.release()
        if self.inner is not None:
            self.inner.connection_lost(exc)


class _TlsAcceptor:
    """Accepts TLS connections on ``sock``: the gate first, then the handshake
    with a deadline, then :class:`_Gated` (stands in for the ``asyncio.Server``
    aiohttp's site closes)."""

    def __init__(self, sock: socket.socket, make: Callable[[str], _Gated],
                 gate: ConnectionGate, tls: ssl.SSLContext, handshake_timeout: float) -> None:
        self.sockets = [sock]
        self.make, self.gate = make, gate
        self.tls, self.handshake_timeout = tls, handshake_timeout
        self.handshakes: set[asyncio.Task[None]] = set()
        self.accepting = asyncio.get_running_loop().create_task(self._accept(sock))

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, addr = await loop.sock_accept(sock)
            except OSError as exc:  # e.g. EMFILE: wait, as asyncio's own server does
                log.warning("https accept failed: %r", exc)
                await asyncio.sleep(0.1)
                continue
            key = self.gate.admit(client_of(addr))
            if key is None:
                conn.close()
                continue
            task = loop.create_task(self._handshake(conn, self.make(key)))
            self.handshakes.add(task)
            task.add_done_callback(self.handshakes.discard)

    async def _handshake(self, conn: socket.socket, gated: _Gated) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: gated, conn, ssl=self.tls, ssl_handshake_timeout=self.handshake_timeout)
        except _HANDSHAKE_ERRORS as exc:
            log.debug("tls handshake failed peer=%s: %r", _peer(conn), exc)
            conn.close()
            gated.release()
        except asyncio.CancelledError:
            conn.close()
            gated.release()
            raise

    def close(self) -> None:
        """Stop accepting; handshakes under way are abandoned."""
        self.accepting.cancel()
        for task in list(self.handshakes):
            task.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        """Wait for the accept loop and the abandoned handshakes to end."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self.accepting, *self.handshakes, return_exceptions=True)


def _peer(conn: socket.socket) -> object:
    try:
        return conn.getpeername()
    except OSError:
        return None


class GuardedSite(web.TCPSite):
    """A ``TCPSite`` whose connections pass :class:`_Gated` (see the module docstring)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        gate: ConnectionGate,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        reuse_port: bool = False,
        fast: FastPath | None = None,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, reuse_port=reuse_port)
        self.gate = gate
        self.handshake_timeout = handshake_timeout
        self.fast = fast

    async def start(self) -> None:
        """Register with the runner and listen."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        tls, gate, timeout, fast = self._ssl_context, self.gate, self.handshake_timeout, self.fast
        loop = asyncio.get_running_loop()
        if tls is not None:
            sock = bind_socket(self._host, self._port, socket.SOCK_STREAM,
                               bool(self._reuse_port))
            sock.listen(self._backlog)
            acceptor = _TlsAcceptor(sock, lambda key: _Gated(server, gate, fast, key), gate,
                                    tls, timeout)
            self._server = acceptor  # type: ignore[assignment]  # close() is what is used
            sockets: list[socket.socket] = acceptor.sockets
        else:
            plain = await loop.create_server(
                lambda: _Gated(server, gate, fast), self._host, self._port,
                backlog=self._backlog, reuse_address=self._reuse_address,
                reuse_port=self._reuse_port,
            )
            self._server = plain
            sockets = list(plain.sockets)
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port

