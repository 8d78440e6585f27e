"""Handle protocol servers on TCP and UDP (default port 2641, IPv4 and IPv6).

Thin adapters: bytes in, :class:`resolver.handle.requests.RequestProcessor`,
bytes out.  Everything a client controls is bounded (:class:`Limits`): message
size, open TCP connections (in all and per client, :mod:`resolver.core.connections`),
idle TCP connections, the time one request may
take to arrive (slow clients are cut off), UDP reassembly buffers, UDP answer
size against amplification (:mod:`resolver.handle.amplification`: the floor
only for addresses proven by a TCP connection, :mod:`resolver.core.proofs`),
requests per client with separate TCP and UDP budgets
(:mod:`resolver.core.ratelimit`: over the limit, RC_SERVER_TOO_BUSY over TCP;
over UDP, RRL: dropped, every ``slip``-th a truncated use-TCP reply).
Repeated plain resolution datagrams are answered from kept datagrams without
a task (:mod:`resolver.handle.hot_path`), under the same limits.  A
request that cannot be decoded gets an RC_PROTOCOL_ERROR response when its
envelope could be read (a TCP stream is then closed, since its framing can no
longer be trusted); otherwise a datagram is dropped.  No exception escapes to
the event loop: each failure is logged as one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from protocol.bodies import error_body
from protocol.constants import (
    MESSAGE_ENVELOPE_SIZE,
    MSG_FLAG_PUBL,
    MSG_FLAG_RECU,
    OC_RESERVED,
    RC_ERROR,
    RC_PROTOCOL_ERROR,
    RC_SERVER_TOO_BUSY,
    RC_SUCCESS,
)
from protocol.envelope import Envelope, decode_envelope
from protocol.errors import ProtocolError
from protocol.framing import BadEnvelope, UdpReassembler, encode_tcp, encode_udp, read_envelope
from protocol.key_types import HandlePrivateKey
from protocol.message import Message, decode_message
from protocol.record_image import wire_of
from protocol.versions import negotiate
from resolver.core.auth_sessions import Challenges, Sessions
from resolver.core.cache import Answer
from resolver.core.connections import ConnectionGate, bind_socket
from resolver.core.hot import HotAnswers
from resolver.core.inflight import InFlight
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.metrics import Metrics
from resolver.core.model import Resolution
from resolver.core.proofs import ProvenAddresses
from resolver.core.ratelimit import UNLIMITED, Admission, RateLimiter, client_of
from resolver.core.service import ResolutionService
from resolver.core.upstream import Network, in_networks, parse_networks
from resolver.handle.amplification import answer_budget, udp_datagrams, use_tcp_reply, within_budget
from resolver.handle.cold_shapes import ColdShape, ColdShapes, shape_key
from resolver.handle.hot_path import HotRequest, KeptDatagrams, hot_request, keepable
from resolver.handle.requests import RequestProcessor
from resolver.handle.udp_send import DatagramSender, DatagramTransport
from resolver.handle.udp_spread import spread_by_request

log = logging.getLogger(__name__)

DEFAULT_PORT = 2641
#: a certified answer (an RSA-2048 signature, on the loop) costs about 7 plain ones: it
#: takes this many tokens of the client's rate budget
CERTIFY_COST = 8
#: client addresses whose right to recursion a listener remembers (then forgets them all)
RECURSION_MEMO = 4096


def envelope_error(env: Envelope, code: int, text: str) -> Message:
    """An error response when only the request's envelope is known."""
    major, minor = negotiate(env.suggest_major_version, env.suggest_minor_version)
    return Message(
        op_code=OC_RESERVED,
        response_code=code,
        body=error_body(text),
        request_id=env.request_id,
        session_id=env.session_id,
        major_version=major,
        minor_version=minor,
    )


async def respond(
    processor: RequestProcessor, request: Message, *, spoofable: bool = False
) -> list[Message]:
    """The processor's answer, or an RC_ERROR response if it failed unexpectedly
    (``spoofable``: the request came over UDP)."""
    started = time.perf_counter()
    try:
        responses = await processor.process(request, spoofable=spoofable)
    except Exception as exc:  # one bad request must not take the server down
        log.error("handle request failed op=%s: %r", request.op_code, exc)
        responses = [envelope_error(request.envelope(0), RC_ERROR, "internal error")]
    if processor.metrics is not None and responses:
        processor.metrics.observe_request(
            "handle", responses[0].response_code, time.perf_counter() - started
        )
    return responses


class _Listener:
    """What a TCP or UDP listener works with: the processor, the limits, its own rate
    budget and the addresses proven by TCP (shared by the two)."""

    def __init__(
        self,
        processor: RequestProcessor,
        limits: Limits,
        limiter: RateLimiter,
        proofs: ProvenAddresses,
    ) -> None:
        self.processor = processor
        self.limits = limits
        self.limiter = limiter
        self.proofs = proofs
        self._recursion_memo: dict[str, bool] = {}

    #: who may ask for recursion (None: anyone); from others the flag is cleared
    recursion: tuple[Network, ...] | None = None

    def _certify_refused(self, request: Message, client: str) -> bool:
        """Whether a certified ``request`` is over ``client``'s budget: signing the
        answer costs CERTIFY_COST requests' worth of it (issue 18 F16)."""
        if not request.certify:
            return False
        return bool(self.limiter.seconds_until_allowed(client, CERTIFY_COST - 1))

    def _limit_recursion(self, request: Message, client: str) -> Message:
        """``request`` with its recursive flag cleared unless ``client`` may recurse."""
        if request.recursive and self.recursion is not None and not self._may_recurse(client):
            request.recursive = False
        return request

    def _may_recurse(self, client: str) -> bool:
        """Whether ``client`` is in :attr:`recursion`, remembered for the last
        :data:`RECURSION_MEMO` clients (parsing the address cost as much as a
        cached answer)."""
        memo = self._recursion_memo
        allowed = memo.get(client)
        if allowed is None:
            assert self.recursion is not None
            if len(memo) >= RECURSION_MEMO:
                memo.clear()
            allowed = memo[client] = in_networks(client, self.recursion)
        return allowed


class _TcpConnections(_Listener):
    """Serves TCP connections (a :class:`_TcpConnection` each): one request after
    another, bounded and idle-timed; once a request's first byte is in, all of it must
    arrive within the read timeout."""

    gate: ConnectionGate  # open connections, in all and per client

    def __call__(self) -> _TcpConnection:
        return _TcpConnection(self)

    async def answer(self, env: Envelope, data: bytes, client: str,
                     write: Callable[[bytes], None]) -> bool:
        """Answer the request ``env`` + ``data`` from ``client`` through ``write``;
        whether the connection goes on (False: it is to be closed)."""
        if self.limiter.seconds_until_allowed(client):
            write(encode_tcp(envelope_error(env, RC_SERVER_TOO_BUSY, "rate limited")))
            return True
        try:
            request = await self.processor.decode(env, data)
        except ProtocolError as exc:
            write(encode_tcp(envelope_error(env, exc.response_code, str(exc))))
            return False
        request = self._limit_recursion(request, client)
        if self._certify_refused(request, client):
            write(encode_tcp(envelope_error(env, RC_SERVER_TOO_BUSY, "rate limited")))
            return True
        for response in await respond(self.processor, request):
            write(encode_tcp(response))
        return True


#: octets a connection buffers while its request is answered before it stops reading
_TCP_BUFFER = 2**17


class _TcpConnection(asyncio.Protocol):
    """One TCP connection of :class:`_TcpConnections`, framed where its bytes arrive
    (no stream reader and writer, no task waiting for bytes): a whole request is
    answered in a task of its own, the next one read once the answer is written (and
    drained), so answers keep their order.  A deadline a request: the idle timeout
    until its first octet, the read timeout from there to its last (none when all of it
    came at once); none while it is answered."""

    def __init__(self, listener: _TcpConnections) -> None:
        self.listener = listener
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self.key: str | None = None  # the gate's, while the connection holds its place
        self.buffer = bytearray()
        self.due: float | None = None  # when the connection is to be closed (loop time)
        self.timer: asyncio.TimerHandle | None = None  # fires at or before ``due``
        self.timer_at = 0.0
        self.reading = False  # a request's first octet is in: the read timeout runs
        self.busy = False  # a request is being answered
        self.eof = False
        self.paused = False  # reading paused: the buffer is full while busy
        self.drained: asyncio.Future[None] | None = None  # while writing is paused
        self.task: asyncio.Task[None] | None = None  # the answer under way (held here)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.client = client_of(transport.get_extra_info("peername"))
        self.key = self.listener.gate.admit(self.client)
        if self.key is None:
            transport.close()
            return
        self.listener.proofs.prove(self.client)  # the handshake completed: the address is real
        self._until(self.listener.limits.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.key is not None:
            self.listener.gate.release(self.key)
            self.key = None
        self._until(None)
        self._drained()

    def _until(self, seconds: float | None) -> None:
        """Close the connection in ``seconds`` (None: no deadline).  The timer is set
        again only to fire earlier: one that fires before the deadline sets itself for
        it then (a request answered at once moves the deadline twice, the timer not)."""
        if seconds is None:
            self.due = None
            if self.transport is None or self.transport.is_closing():
                self._stop_timer()
            return
        due = self.due = self.loop.time() + seconds
        if self.timer is None or self.timer_at > due:
            self._set_timer(due)

    def _set_timer(self, when: float) -> None:
        self._stop_timer()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._expire)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        due = self.due
        if due is None:
            return  # answering: no deadline (the next one sets the timer again)
        if self.loop.time() < due:
            self._set_timer(due)
        elif self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()
        elif len(self.buffer) > _TCP_BUFFER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        if not self.busy:
            self._next()
        return True  # closed here, once what came before the end is answered

    def pause_writing(self) -> None:
        if self.drained is None:
            self.drained = self.loop.create_future()

    def resume_writing(self) -> None:
        self._drained()

    def _drained(self) -> None:
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _next(self) -> None:
        """Start answering the next whole request in the buffer, or wait for its bytes."""
        transport, buffer = self.transport, self.buffer
        if transport is None or self.key is None or transport.is_closing():
            return
        env = None
        if len(buffer) >= MESSAGE_ENVELOPE_SIZE:
            try:
                env = read_envelope(buffer, self.listener.limits.max_message_size)
            except BadEnvelope as exc:
                fake = Envelope(0, *_ids(exc.head))
                transport.write(encode_tcp(envelope_error(fake, RC_PROTOCOL_ERROR, str(exc))))
                transport.close()
                return
        end = MESSAGE_ENVELOPE_SIZE + (-1 if env is None else env.message_length)
        if env is None or len(buffer) < end:
            if self.eof:  # ended inside a request, or between two
                transport.close()
                return
            if buffer and not self.reading:  # its first octets are in: the read timeout
                self.reading = True
                self._until(self.listener.limits.read_timeout)
            if self.paused:
                self.paused = False
                transport.resume_reading()
            return
        data = bytes(buffer[MESSAGE_ENVELOPE_SIZE:end])
        del buffer[:end]
        self.reading, self.busy = False, True
        self._until(None)
        self.task = self.loop.create_task(self._answer(env, data))

    def _write(self, answer: bytes) -> None:
        """Send ``answer`` unless the connection is ending (the client left meanwhile)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(answer)

    async def _answer(self, env: Envelope, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        goes_on = False
        try:
            goes_on = await self.listener.answer(env, data, self.client, self._write)
            if self.drained is not None:
                await self.drained
        except asyncio.CancelledError:
            pass  # shutting down
        except Exception as exc:
            log.error("handle tcp connection failed: %r", exc)
        self.busy = False
        if not goes_on:
            transport.close()
        elif not transport.is_closing():
            self._until(self.listener.limits.idle_timeout)
            self._next()


def _ids(head: bytes) -> tuple[int, int]:
    """(request id, session id) from a raw envelope, for an error reply."""
    return int.from_bytes(head[8:12], "big", signed=True), int.from_bytes(
        head[4:8], "big", signed=True
    )


class _UdpServer(_Listener, asyncio.DatagramProtocol):
    """Serves datagrams: repeated plain resolutions from kept datagrams (``hot``), the
    rest reassembled and answered each in a task."""

    transport: asyncio.DatagramTransport | None = None
    hot: HotAnswers | None = None
    #: the listener's socket, for sending an answer's datagrams in one call
    #: (:mod:`resolver.handle.udp_send`; None: one ``transport.sendto`` each)
    sock: socket.socket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.sender = DatagramSender(cast(DatagramTransport, transport), self.sock)
        self.reassembler = UdpReassembler(max_message_size=self.limits.max_message_size)
        self.shapes = ColdShapes()
        self.inflight = InFlight(self.limits.max_udp_inflight)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        request = hot_request(data) if self.hot is not None else None
        if request is not None and (
            (self.limiter.enabled and not self._admitted(data, addr))
            or self._answer_hot(request, data, addr)
            or self._answer_shaped(request, data, addr)
        ):
            return
        try:
            complete = self.reassembler.add(addr, data, time.monotonic())
        except ProtocolError as exc:
            self._reply_error(data, addr, exc)
            return
        except Exception as exc:
            log.error("handle udp datagram failed: %r", exc)
            return
        if complete is None:
            return
        env, message = complete
        size = MESSAGE_ENVELOPE_SIZE + env.message_length
        if request is None and not self._admitted(data, addr, env):
            return
        decoded = None
        if request is not None:
            answered, decoded = self._answer_now(env, message, addr, request, data)
            if answered:
                return
        if self.inflight.full:
            self._send([envelope_error(env, RC_SERVER_TOO_BUSY, "server too busy")], addr, size)
            return
        self.inflight.start(self._answer(env, message, addr, request, decoded,
                                         None if request is None else shape_key(data, request)))

    def _admitted(self, data: bytes, addr: tuple[str | int, ...],
                  env: Envelope | None = None) -> bool:
        """Ask the rate limiter once for this datagram; when refused, send the slip
        reply if it is due."""
        admission = self.limiter.admit_datagram(client_of(addr))
        if admission is Admission.ANSWER:
            return True
        if admission is Admission.SLIP:  # a real client behind the address retries on TCP
            with contextlib.suppress(ProtocolError):  # no envelope: no reply
                env = env or decode_envelope(data, self.limits.max_message_size)
                slip = use_tcp_reply(envelope_error(env, RC_SERVER_TOO_BUSY, "rate limited"))
                self._send_datagrams([slip], addr, len(data), lambda: slip)
        return False

    def _answer_hot(self, request: HotRequest, data: bytes, addr: tuple[str | int, ...]) -> bool:
        """Answer an admitted ``request`` from kept datagrams if there are any; whether
        it was answered."""
        started = time.perf_counter()
        hot = self.hot
        assert hot is not None
        answer = hot.lookup(request.handle)
        kept = None if answer is None else answer.renders.get(request.form)
        if not isinstance(kept, KeptDatagrams):
            return False
        transport = self.transport
        if transport is None or transport.is_closing():
            return True
        self._send_kept(kept, data, addr)
        hot.served(request.handle)
        metrics = self.processor.metrics
        if metrics is not None:
            metrics.observe_request("handle", RC_SUCCESS, time.perf_counter() - started)
        return True

    def _send_kept(self, kept: KeptDatagrams, data: bytes, addr: tuple[str | int, ...]) -> None:
        """Send ``kept`` in answer to the request ``data`` under the amplification cap:
        in one segmented call where it can go so, else datagram by datagram."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        request_id = data[8:12]
        limits = self.limits
        factor = limits.udp_amplification_factor
        budget = None
        if factor > 0 and kept.size > factor * len(data):  # over the plain cap: look closer
            budget = answer_budget(len(data), factor, limits.udp_answer_floor,
                                   proven=client_of(addr) in self.proofs)
        sender = self.sender
        if budget is not None and kept.size > budget:  # the use-TCP reply, or nothing
            sender.send(within_budget(kept.replay(request_id), budget,
                                      lambda: kept.replay_short(request_id)), addr)
        elif not (kept.segment and sender.send_segmented(kept.replay_joined(request_id),
                                                         kept.segment, addr)):
            sender.send(kept.replay(request_id), addr)

    def _answer_shaped(self, request: HotRequest, data: bytes,
                       addr: tuple[str | int, ...]) -> bool:
        """Answer an admitted request for all values of a handle whose shape was learned
        (:mod:`resolver.handle.cold_shapes`) without decoding it; whether it was
        answered.  What resolves to anything but a record anyone may read whole is
        answered from its resolution the ordinary way."""
        key = shape_key(data, request)
        shape = self.shapes.get(key)
        if shape is None or self.hot is None:
            return False
        started = time.perf_counter()
        flags = int.from_bytes(data[MESSAGE_ENVELOPE_SIZE + 8:MESSAGE_ENVELOPE_SIZE + 12], "big")
        recursive = bool(flags & MSG_FLAG_RECU) and (
            self.recursion is None or self._may_recurse(client_of(addr)))
        public_only = bool(flags & MSG_FLAG_PUBL)
        try:
            res = self.processor.service.resolve_now(
                request.handle, recursive=recursive, withheld_ok=public_only)
        except Exception:
            return False
        if res is None:
            if self.inflight.full:
                return False  # refused the ordinary way
            self.inflight.start(self._answer_shaped_later(request, data, addr, key, shape,
                                                          recursive, public_only, started))
            return True
        wire = wire_of(res.values) if res.response_code == RC_SUCCESS else None
        metrics = self.processor.metrics
        if metrics is not None:
            metrics.observe_request("handle", res.response_code, time.perf_counter() - started)
        try:
            if wire is None or res.authoritative != shape.authoritative:
                self._answer_resolution(data, addr, request, key, res)
                return True
            # nothing ran since the answer was made: the cached record is the one it came from
            self._send_laid_out(request, data, addr, shape, wire, self.hot.lookup(request.handle))
        except Exception as exc:
            log.error("handle udp request failed: %r", exc)
        return True

    async def _answer_shaped_later(
        self, request: HotRequest, data: bytes, addr: tuple[str | int, ...],
        key: bytes | None, shape: ColdShape, recursive: bool, public_only: bool, started: float,
    ) -> None:
        """:meth:`_answer_shaped` for a resolution that has to wait (a read on a reader
        thread or from PostgreSQL, recursion), in a task: the answer the task path gives
        (:meth:`_answer`), laid out from the shape without decoding the request unless it
        is not a record anyone may read whole (then a challenge, an error, a referral...
        made the ordinary way)."""
        hot = self.hot
        assert hot is not None
        answer, mark = hot.lookup(request.handle), hot.mark()
        try:
            res = await self.processor.service.resolve(request.handle, recursive=recursive)
        except Exception:  # the task path meets it again and answers as it does
            with contextlib.suppress(ProtocolError):  # no envelope: no answer
                env = decode_envelope(data, self.limits.max_message_size)
                await self._answer(env, data[MESSAGE_ENVELOPE_SIZE:], addr, request)
            return
        if answer is None:
            answer = hot.added_since(request.handle, mark)
        metrics = self.processor.metrics
        if metrics is not None:
            metrics.observe_request("handle", res.response_code, time.perf_counter() - started)
        try:
            wire = wire_of(res.values) if res.response_code == RC_SUCCESS else None
            if wire is None or res.authoritative != shape.authoritative:
                asked = self._decoded(data)
                response = await self.processor.resolution_answer(asked, res)
                self._reply(asked, [response], addr, len(data), request, answer, key)
                return
            self._send_laid_out(request, data, addr, shape, wire, answer)
        except Exception as exc:
            log.error("handle udp request failed: %r", exc)

    def _send_laid_out(self, request: HotRequest, data: bytes, addr: tuple[str | int, ...],
                       shape: ColdShape, wire: bytes, answer: Answer | None) -> None:
        """Send the answer to ``data`` laid out from ``shape`` around the values ``wire``;
        keep it with ``answer``, the cached record it was made from (if any)."""
        assert self.hot is not None
        kept = shape.kept(request.handle.encode(), wire)
        self._send_kept(kept, data, addr)
        if answer is not None:
            self.hot.keep(request.handle, answer, request.form, kept,
                          len(request.form) + kept.charge)

    def _decoded(self, data: bytes) -> Message:
        """The single-datagram request ``data``, decoded."""
        limit = self.limits.max_message_size
        return decode_message(decode_envelope(data, limit), data[MESSAGE_ENVELOPE_SIZE:], limit)

    def _answer_resolution(self, data: bytes, addr: tuple[str | int, ...], hot: HotRequest,
                           key: bytes | None, res: Resolution) -> None:
        """Answer the single-datagram request ``data`` with ``res``, its resolution made
        already, as :meth:`_answer_now` answers."""
        request = self._decoded(data)
        response = RequestProcessor.resolution_response(request, res)
        answer = self.hot.lookup(hot.handle) if self.hot is not None else None
        self._reply(request, [response], addr, len(data), hot, answer, key)

    def _reply_error(self, data: bytes, addr: tuple[str | int, ...], exc: ProtocolError) -> None:
        try:
            env = decode_envelope(data, self.limits.max_message_size)
        except ProtocolError:
            return  # no envelope: no reply can be formed
        if self.limiter.admit_datagram(client_of(addr)) is not Admission.ANSWER:
            return  # a flood of bad datagrams gets no replies
        self._send([envelope_error(env, exc.response_code, str(exc))], addr, len(data))

    def _answer_now(self, env: Envelope, message: bytes, addr: tuple[str | int, ...],
                    hot: HotRequest, data: bytes) -> tuple[bool, Message | None]:
        """Answer a plain resolution request (an admitted ``hot`` one) without a task when
        that needs no waiting (:meth:`RequestProcessor.resolve_now`: a cached record, or
        one read here and now) exactly as :meth:`_answer` would; whether it was answered,
        and the request decoded (for :meth:`_answer` when it was not)."""
        started = time.perf_counter()
        if env.encrypted:
            return False, None
        try:
            request = decode_message(env, message, self.limits.max_message_size)
        except Exception:  # the task path meets it again and answers as it does
            return False, None
        try:
            response = self.processor.resolve_now(self._limit_recursion(request, client_of(addr)))
        except Exception:
            return False, request
        if response is None:
            return False, request
        metrics = self.processor.metrics
        if metrics is not None:
            metrics.observe_request("handle", response.response_code,
                                    time.perf_counter() - started)
        try:
            # nothing ran since the answer was made: the cached record is the one it came from
            answer = self.hot.lookup(hot.handle) if self.hot is not None else None
            self._reply(request, [response], addr, MESSAGE_ENVELOPE_SIZE + len(message), hot,
                        answer, shape_key(data, hot))
        except Exception as exc:
            log.error("handle udp request failed: %r", exc)
        return True, request

    async def _answer(self, env: Envelope, message: bytes, addr: tuple[str | int, ...],
                      hot: HotRequest | None, decoded: Message | None = None,
                      shape: bytes | None = None) -> None:
        """Answer in a task; ``decoded``: the request, when :meth:`_answer_now` decoded it;
        ``shape``: the request's shape (:func:`shape_key`), learned from the answer."""
        try:
            size = MESSAGE_ENVELOPE_SIZE + len(message)
            try:
                request = (decoded if decoded is not None
                           else await self.processor.decode(env, message))
            except ProtocolError as exc:
                self._send([envelope_error(env, exc.response_code, str(exc))], addr, size)
                return
            # the cached record the answer is made from: the answer is kept with it
            answer = mark = None
            if hot is not None and self.hot is not None:
                answer = self.hot.lookup(hot.handle)
                mark = self.hot.mark()
            request = self._limit_recursion(request, client_of(addr))
            if self._certify_refused(request, client_of(addr)):
                return  # over UDP, as any rate-limited datagram: dropped
            responses = await respond(self.processor, request, spoofable=True)
            if answer is None and mark is not None and hot is not None and self.hot is not None:
                # fetched for this request: kept too, so the next ask is hot
                answer = self.hot.added_since(hot.handle, mark)
            self._reply(request, responses, addr, size, hot, answer, shape)
        except Exception as exc:
            log.error("handle udp request failed: %r", exc)

    def _reply(self, request: Message, responses: Sequence[Message],
               addr: tuple[str | int, ...], size: int, hot: HotRequest | None,
               answer: Answer | None, shape: bytes | None = None) -> None:
        """Send ``responses`` to ``request`` (``size`` bytes); keep their datagrams with
        ``answer``, the cached record they were made from, when they may be replayed;
        learn the layout of the request's ``shape`` (:func:`shape_key`) from them."""
        if answer is None or hot is None or self.hot is None or not keepable(request, responses):
            self._send(responses, addr, size)
            return
        response = responses[0]
        full = tuple(encode_udp(response))
        self._send_datagrams(full, addr, size, lambda: use_tcp_reply(response))
        kept = KeptDatagrams(full, response)
        self.hot.keep(hot.handle, answer, hot.form, kept, len(hot.form) + kept.charge)
        if shape is not None:
            self.shapes.learn(shape, hot.handle, response, full)

    def _send(
        self, responses: Sequence[Message], addr: tuple[str | int, ...], request_size: int
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        limits = self.limits
        self.sender.send(udp_datagrams(
            responses, request_size, limits.udp_amplification_factor, limits.udp_answer_floor,
            proven=client_of(addr) in self.proofs,
        ), addr)

    def _send_datagrams(
        self,
        datagrams: Sequence[bytes],
        addr: tuple[str | int, ...],
        request_size: int,
        short: Callable[[], bytes],
    ) -> None:
        """Send encoded ``datagrams`` under the amplification cap (``short()`` in their
        place when they do not fit): the path for pre-encoded answers."""
        if self.transport is None or self.transport.is_closing():
            return
        limits = self.limits
        budget = answer_budget(
            request_size, limits.udp_amplification_factor, limits.udp_answer_floor,
            proven=client_of(addr) in self.proofs,
        )
        self.sender.send(within_budget(datagrams, budget, short), addr)

    def error_received(self, exc: Exception) -> None:
        log.info("handle udp socket error: %r", exc)


@dataclass
class HandleServer:
    """Running TCP and UDP listeners.  ``ports`` lists (host, port) bound per protocol."""

    processor: RequestProcessor
    tcp: list[asyncio.Server] = field(default_factory=list)
    udp: list[asyncio.DatagramTransport] = field(default_factory=list)

    @property
    def tcp_ports(self) -> list[tuple[str, int]]:
        """Bound TCP (host, port) pairs."""
        return [s.getsockname()[:2] for srv in self.tcp for s in srv.sockets]

    @property
    def udp_ports(self) -> list[tuple[str, int]]:
        """Bound UDP (host, port) pairs."""
        return [t.get_extra_info("sockname")[:2] for t in self.udp]

    @property
    def port(self) -> int:
        """The port shared by every listener."""
        return self.tcp_ports[0][1]

    async def close(self) -> None:
        """Stop listening and wait for the TCP servers to shut down."""
        for transport in self.udp:
            transport.close()
        for srv in self.tcp:
            srv.close()
        for srv in self.tcp:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 5)


async def run_handle_server(
    service: ResolutionService,
    host: str | Sequence[str] = ("0.0.0.0", "::"),
    port: int = DEFAULT_PORT,
    *,
    limits: Limits = DEFAULT_LIMITS,
    private_key: HandlePrivateKey | None = None,
    challenges: Challenges | None = None,
    sessions: Sessions | None = None,
    reuse_port: bool = False,
    udp_workers: int = 1,
    rate_limiter: RateLimiter = UNLIMITED,
    metrics: Metrics | None = None,
    recursion_allow: Sequence[str] | None = None,
    udp_segmentation: bool = True,
) -> HandleServer:
    """Answer the Handle protocol for ``service`` on TCP and UDP ``port`` of every host.

    Port 0 picks one free port shared by all listeners.  ``private_key`` signs
    the responses to certified requests; ``challenges`` and ``sessions`` hold
    open challenges and Handle sessions (:mod:`resolver.core.auth_sessions`; the
    node passes ones every worker process shares); ``reuse_port``
    sets SO_REUSEPORT so several processes can share the ports;
    ``udp_workers`` (> 1, with ``reuse_port``) is how many processes share them:
    UDP requests are then spread over them by request id
    (:mod:`resolver.handle.udp_spread`) and each takes that share of a client's
    UDP rate budget;
    ``rate_limiter`` is asked once per TCP request, a :meth:`RateLimiter.fresh` copy
    of it once per UDP request (spoofed datagrams cannot spend a TCP budget);
    ``metrics`` counts answers and latency under the front end ``handle``;
    ``recursion_allow`` lists the networks whose requests may ask for recursion
    (None: every client; from others the recursive flag is ignored);
    ``udp_segmentation`` sends the datagrams of a UDP answer in one system call
    where the kernel can (:mod:`resolver.handle.udp_send`), else one call each.
    """
    loop = asyncio.get_running_loop()
    recursion = None if recursion_allow is None else parse_networks(
        recursion_allow, "recursion_allow"
    )
    processor = RequestProcessor(
        service,
        limits=limits,
        private_key=private_key,
        challenges=challenges,
        sessions=sessions,
        metrics=metrics,
    )
    server = HandleServer(processor)
    proofs = ProvenAddresses()
    spread = reuse_port and udp_workers > 1
    udp_limiter = rate_limiter.share(udp_workers) if spread else rate_limiter.fresh()
    handler = _TcpConnections(processor, limits, rate_limiter, proofs)
    handler.gate = ConnectionGate(limits.max_tcp_connections, limits.max_connections_per_client)
    handler.recursion = recursion
    hot = HotAnswers(service) if service.answers is not None else None

    def udp_server(sock: socket.socket) -> _UdpServer:
        listener = _UdpServer(processor, limits, udp_limiter, proofs)
        listener.hot, listener.recursion = hot, recursion
        listener.sock = sock if udp_segmentation else None
        return listener

    try:
        for one in [host] if isinstance(host, str) else host:
            tcp_sock = bind_socket(one, port, socket.SOCK_STREAM, reuse_port)
            port = tcp_sock.getsockname()[1]
            srv = await loop.create_server(handler, sock=tcp_sock)
            server.tcp.append(srv)
            udp_sock = bind_socket(one, port, socket.SOCK_DGRAM, reuse_port)
            if spread and not spread_by_request(udp_sock, udp_workers):
                log.warning("UDP requests on %s:%d go to workers by client address: "
                            "this kernel refused SO_ATTACH_REUSEPORT_CBPF", one, port)
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(udp_server, udp_sock), sock=udp_sock
            )
            server.udp.append(transport)
    except BaseException:
        await server.close()
        raise
    return server
