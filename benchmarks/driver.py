"""High-rate load driver: how many resolutions per second a server sustains.

Locust spends most of a core on its own bookkeeping, so on a small machine it
saturates long before the node does.  This driver is a closed loop written
for low client cost: ``concurrency`` requests are always outstanding; each
answer immediately triggers the next request.

* ``udp``: Handle resolution requests over ``sockets`` UDP sockets (several,
  so SO_REUSEPORT spreads them over the node's workers); responses are
  matched by request id and counted piece by piece
  (:class:`benchmarks.hdl_wire.UdpResponses`), not decoded.  A request
  unanswered after ``timeout`` seconds counts as an error.  An RC_ERROR
  answer ("use TCP") is followed by the same request over a new TCP
  connection, as Handle clients do; its latency covers both, and the
  result counts these fallbacks.
* ``http``: ``GET /api/handles/{handle}`` over ``concurrency`` keep-alive
  connections with a minimal HTTP/1.1 reader (Content-Length bodies).

Identifiers come from the workload in the ``IDNODE_BENCH_*`` environment
(:class:`benchmarks.workload.WorkloadSpec`).  A run stops after ``duration``
seconds or ``max_requests`` requests, whichever comes first; answers to
requests sent in the first ``warmup`` seconds are not counted.  An answer
with an unexpected code (not SUCCESS for a stored handle, not
HANDLE_NOT_FOUND / 404 for a miss) is an error.  ``processes`` > 1 runs
that many driver processes and adds up their figures.

``rate`` > 0 paces the requests instead (open loop, up to ``concurrency``
outstanding): request *n* leaves at ``start + n / rate``, or as soon as a slot
is free when the server has fallen behind; latency counts from the moment it
left, and the result says how many left more than a millisecond late
(``late``), so a point the server could not keep up with shows as one.  This is
how "p99 at half of the maximum throughput" is measured.

``python -m benchmarks.driver --protocol udp --port 2641 --duration 10``
prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import multiprocessing
import random
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import uvloop

from benchmarks.hdl_wire import (
    EXPECTED_CODE,
    USE_TCP_CODE,
    Completed,
    UdpResponses,
    message_length,
    request_id_of,
    resolution_datagram,
    resolution_frame,
    response_code,
    with_request_id,
)
from benchmarks.measure import summarise
from benchmarks.workload import MISS, KeyFile, Workload, WorkloadSpec

PROTOCOLS = ("udp", "http")
SWEEP_INTERVAL = 0.05
#: a paced request leaving this many seconds after its turn counts as late
LATE = 0.001


@dataclass(frozen=True, slots=True)
class DriverOptions:
    """What to drive and how hard; see the module docstring."""

    protocol: str
    port: int
    host: str = "127.0.0.1"
    concurrency: int = 32
    duration: float = 10.0
    max_requests: int = 1_000_000
    warmup: float = 1.0
    sockets: int = 8
    timeout: float = 2.0
    processes: int = 1
    rate: float = 0.0


@dataclass(slots=True)
class DriverResult:
    """Figures of one run (summed over processes); latencies in ms."""

    seconds: float
    completed: int
    errors: int
    achieved_rps: float
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    wrapped: bool = False
    first_error: str = ""
    tcp_fallbacks: int = 0
    mean_bytes: float = math.nan
    late: int = 0
    #: requests sent, warm-up included (what the server's CPU over the run was spent on)
    issued: int = 0


@dataclass(slots=True)
class _Tally:
    """What one process saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    wrapped: bool = False
    tcp_fallbacks: int = 0
    answer_bytes: int = 0
    late: int = 0
    issued: int = 0

    def fail(self, counted: bool, why: str) -> None:
        if counted:
            self.errors += 1
        self.first_error = self.first_error or why


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Run:
    """Shared state of one process's run: clock, limits, identifiers."""

    def __init__(self, opts: DriverOptions, work: Workload) -> None:
        self.opts, self.work = opts, work
        self.tally = _Tally()
        self.started = time.perf_counter()
        self.measure_from = self.started + opts.warmup
        self.deadline = self.started + opts.duration
        self.issued = 0
        self.interval = 1.0 / opts.rate if opts.rate > 0 else 0.0
        self.paced = 0

    async def paced_turn(self) -> bool:
        """With a ``rate``, wait for this request's turn (no wait when behind); whether
        the turn comes before the run ends."""
        if not self.interval:
            return True
        due = self.started + self.paced * self.interval
        if due >= self.deadline:
            return False
        self.paced += 1
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -LATE:
            self.tally.late += 1
        return True

    def more(self) -> bool:
        """Whether another request may be sent (and counts it)."""
        if self.issued >= self.opts.max_requests or time.perf_counter() >= self.deadline:
            return False
        self.issued += 1
        return True

    def record(self, sent: float, ok: bool, why: str, size: int = 0) -> None:
        """One answer (``size`` bytes) to a request sent at ``sent``."""
        counted = sent >= self.measure_from
        if ok and counted:
            self.tally.latencies.append((time.perf_counter() - sent) * 1000.0)
            self.tally.answer_bytes += size
        elif not ok:
            self.tally.fail(counted, why)

    def finish(self) -> _Tally:
        self.tally.seconds = max(1e-9, time.perf_counter() - self.measure_from)
        self.tally.wrapped = self.work.wrapped
        self.tally.issued = self.issued
        return self.tally


async def tcp_resolve(host: str, port: int, handle: str, request_id: int) -> tuple[int, int]:
    """Resolve over a new TCP connection; (response code, frame bytes)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(resolution_frame(handle, request_id))
        while True:
            head = await reader.readexactly(20)
            message = await reader.readexactly(message_length(head))
            if request_id_of(head) == request_id:
                return response_code(head + message), len(head) + len(message)
    finally:
        writer.close()


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self, responses: UdpResponses, pending: dict[int, asyncio.Future[Completed]]
                 ) -> None:
        self.responses, self.pending = responses, pending

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        done = self.responses.add(data)
        if done is not None:
            future = self.pending.pop(done.request_id, None)
            if future is not None and not future.done():
                future.set_result(done)


async def _drive_udp(run: _Run) -> None:
    opts, loop = run.opts, asyncio.get_running_loop()
    pending: dict[int, asyncio.Future[Completed]] = {}
    sent_at: dict[int, float] = {}
    responses = UdpResponses(pending.__contains__)
    transports = []
    for _ in range(max(1, opts.sockets)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * 1024 * 1024)
        sock.connect((opts.host, opts.port))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpClient(responses, pending), sock=sock)
        transports.append(transport)
    ids = itertools.count(random.getrandbits(30))
    templates: dict[str, bytes] = {}

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            too_old = time.perf_counter() - opts.timeout
            for rid in [r for r, t in sent_at.items() if t < too_old]:
                future = pending.pop(rid, None)
                responses.forget(rid)
                if future is not None and not future.done():
                    future.set_exception(TimeoutError("no answer"))

    async def slot(transport: asyncio.DatagramTransport) -> None:
        while run.more() and await run.paced_turn():
            kind, handle = next(run.work)
            rid = next(ids) & 0x7FFFFFFF
            packet = templates.get(handle)
            if packet is None:
                packet = resolution_datagram(handle, 0)
                if kind != MISS:
                    templates[handle] = packet
            future = pending[rid] = loop.create_future()
            sent = sent_at[rid] = time.perf_counter()
            transport.sendto(with_request_id(packet, rid))
            try:
                done: Completed = await future
                code, size = done.response_code, done.size
                if code == USE_TCP_CODE:
                    run.tally.tcp_fallbacks += 1
                    async with asyncio.timeout(opts.timeout):
                        code, size = await tcp_resolve(opts.host, opts.port, handle, rid)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                run.record(sent, False, _why(exc))
                continue
            finally:
                del sent_at[rid]
            run.record(sent, code == EXPECTED_CODE[kind], f"{kind} answered with code {code}",
                       size)

    sweeper = asyncio.create_task(sweep())
    try:
        await asyncio.gather(*(slot(transports[i % len(transports)])
                               for i in range(opts.concurrency)))
    finally:
        sweeper.cancel()
        for transport in transports:
            transport.close()


async def _http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         handle: str, host: bytes) -> tuple[int, int, bool]:
    """One GET on a keep-alive connection: (status, body bytes, whether the server
    keeps the connection open)."""
    writer.write(b"GET /api/handles/" + quote(handle, safe="/").encode()
                 + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        raise ConnectionError("response without Content-Length")
    end = head.index(b"\r\n", start + 2)
    length = int(head[start + 17:end])
    await reader.readexactly(length)
    return status, length, b"\r\nconnection: close" not in head


async def _drive_http(run: _Run) -> None:
    opts = run.opts
    host = f"{opts.host}:{opts.port}".encode()

    async def connection() -> None:
        reader = writer = None
        while run.more() and await run.paced_turn():
            kind, handle = next(run.work)
            sent = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(opts.host, opts.port)
                assert reader is not None
                async with asyncio.timeout(opts.timeout):
                    status, size, keep = await _http_exchange(reader, writer, handle, host)
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError) as exc:
                run.record(sent, False, _why(exc))
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            expected = 404 if kind == MISS else 200
            run.record(sent, status == expected, f"{kind} answered with HTTP {status}", size)
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(opts.concurrency)))


async def _drive(opts: DriverOptions, spec: WorkloadSpec, client: int, clients: int) -> _Tally:
    run = _Run(opts, Workload(spec, KeyFile.load(Path(spec.keys)), client, clients))
    body = _drive_udp(run) if opts.protocol == "udp" else _drive_http(run)
    async with asyncio.timeout(opts.duration + opts.timeout + 10):
        await body
    return run.finish()


def _process(opts: DriverOptions, spec: WorkloadSpec, client: int, clients: int) -> _Tally:
    return uvloop.run(_drive(opts, spec, client, clients))


def drive(opts: DriverOptions, spec: WorkloadSpec) -> DriverResult:
    """Run the driver (in ``opts.processes`` processes) and sum up."""
    if opts.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    n = max(1, opts.processes)
    if n == 1:
        tallies = [_process(opts, spec, 0, 1)]
    else:
        share = replace(opts, concurrency=max(1, opts.concurrency // n),
                        max_requests=max(1, opts.max_requests // n), rate=opts.rate / n)
        with multiprocessing.get_context("fork").Pool(n) as pool:
            tallies = pool.starmap(_process, [(share, spec, i, n) for i in range(n)])
    latencies = [x for t in tallies for x in t.latencies]
    errors = sum(t.errors for t in tallies)
    seconds = max(t.seconds for t in tallies)
    rate = sum(len(t.latencies) / t.seconds for t in tallies)
    first_error = next((t.first_error for t in tallies if t.first_error), "")
    return DriverResult(seconds=seconds, completed=len(latencies), errors=errors,
                        achieved_rps=rate, wrapped=any(t.wrapped for t in tallies),
                        first_error=first_error,
                        tcp_fallbacks=sum(t.tcp_fallbacks for t in tallies),
                        late=sum(t.late for t in tallies),
                        issued=sum(t.issued for t in tallies),
                        mean_bytes=sum(t.answer_bytes for t in tallies) / len(latencies)
                        if latencies else math.nan,
                        **summarise(latencies))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: prints the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=PROTOCOLS, required=True)
    parser.add_argument("--port", type=int, required=True)
    for name, default in asdict(DriverOptions("udp", 0)).items():
        if name not in ("protocol", "port"):
            parser.add_argument("--" + name.replace("_", "-"), type=type(default),
                                default=default)
    args = parser.parse_args(argv)
    opts = DriverOptions(**vars(args))
    print(json.dumps(asdict(drive(opts, WorkloadSpec.from_env()))), flush=True)


if __name__ == "__main__":
    main()
