"""The HTTP front end's listening site: connection caps and a TLS handshake deadline.

aiohttp's ``TCPSite`` hands every accepted connection to its protocol at once
and lets ``asyncio`` run a TLS handshake for up to 60 seconds: a client that
opens connections and sends nothing (or never starts TLS) holds them that
long, with no cap on how many (issue 18 F7).  :class:`GuardedSite` listens
itself and puts :class:`_Gated` in front of aiohttp's protocol:

* a connection over the :class:`resolver.core.connections.ConnectionGate`
  caps (in all, per client) is closed at once, before any TLS work;
* with TLS, the handshake is started by :meth:`asyncio.loop.start_tls` with
  ``handshake_timeout``; a client that does not finish it in time is cut off;
* everything else goes to aiohttp's protocol unchanged (the gate only
  forwards; a ``fast`` answerer, :mod:`resolver.http.fast_rest`, may answer a
  chunk before that), and the connection's slot is given back when it ends.

Hand-written because neither aiohttp nor asyncio offers a per-client cap, and
an accepted connection's peer is known only to its protocol.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Protocol, cast

from aiohttp import web

from resolver.core.connections import ConnectionGate
from resolver.core.ratelimit import client_of

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.Protocol]


class FastPath(Protocol):
    """Answers some chunks before aiohttp (:class:`resolver.http.fast_rest.FastReads`)."""

    def answer(self, data: bytes, transport: asyncio.Transport, inner: object) -> bool:
        """Answer the chunk ``data`` itself (True) or leave it to aiohttp (False)."""

    def may_return(self, data: bytes) -> bool:
        """Whether, after aiohttp was given ``data``, later chunks may be answered here."""


class _Gated(asyncio.Protocol):
    """One connection: admitted by the gate (or closed), TLS set up, then forwarded."""

    def __init__(
        self,
        factory: ProtocolFactory,
        gate: ConnectionGate,
        tls: ssl.SSLContext | None,
        handshake_timeout: float,
        fast: FastPath | None = None,
    ) -> None:
        self.factory = factory
        self.fast = fast
        self.transport: asyncio.Transport | None = None
        self.gate = gate
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.inner: asyncio.Protocol | None = None
        self.key: str | None = None
        self.early: list[bytes] = []  # data the TLS layer delivered before inner existed
        self.handshake: asyncio.Task[None] | None = None

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # a TCP transport (asyncio's or uvloop's)
        self.key = self.gate.admit(client_of(transport.get_extra_info("peername")))
        if self.key is None:
            transport.abort()
            return
        if self.tls is None:
            self._serve(transport)
            return
        transport.pause_reading()  # the ClientHello is for the TLS layer start_tls adds
        self.handshake = asyncio.get_running_loop().create_task(self._start_tls(transport))

    async def _start_tls(self, transport: asyncio.Transport) -> None:
        assert self.tls is not None
        loop = asyncio.get_running_loop()
        try:
            secure = await loop.start_tls(
                transport, self, self.tls, server_side=True,
                ssl_handshake_timeout=self.handshake_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError, ConnectionError) as exc:
            log.debug("tls handshake failed peer=%s: %r", transport.get_extra_info("peername"), exc)
            transport.abort()
            self._release()
            return
        if secure is None:
            self._release()
            return
        self._serve(secure)

    def _serve(self, transport: asyncio.BaseTransport) -> None:
        inner = self.factory()
        self.inner = inner
        self.transport = cast(asyncio.Transport, transport)
        inner.connection_made(transport)
        for data in self.early:
            inner.data_received(data)
        self.early.clear()

    def _release(self) -> None:
        if self.key is not None:
            self.gate.release(self.key)
            self.key = None

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        if inner is None:
            self.early.append(data)
            return
        fast = self.fast
        if fast is not None:
            assert self.transport is not None
            if fast.answer(data, self.transport, inner):
                return
            if not fast.may_return(data):
                self.fast = None  # aiohttp has this connection from now on
        inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self.handshake is not None and not self.handshake.done():
            self.handshake.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)


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

        def gated() -> asyncio.Protocol:
            return _Gated(server, gate, tls, timeout, fast)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            gated, self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
