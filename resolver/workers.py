"""One Handle server process per core, sharing the ports with SO_REUSEPORT.

The parent reserves the port (so port 0 means one free port for every
worker), starts the tables of open challenges and Handle sessions every
worker shares (:mod:`resolver.shared_auth`), then spawns the workers.
Each worker builds its own :class:`ResolutionService` (its own database
connections) with ``make_service`` and serves until it is told to stop.  Event
loops use uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

from protocol.crypto import PrivateKey
from resolver.handle_server import DEFAULT_PORT, run_handle_server
from resolver.limits import DEFAULT_LIMITS, Limits
from resolver.service import ResolutionService
from resolver.shared_auth import SharedAuthTables, connect_auth_tables

log = logging.getLogger(__name__)

ServiceFactory = Callable[[], Awaitable[ResolutionService]]


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)``, on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


@dataclass(frozen=True)
class _WorkerConfig:
    make_service: ServiceFactory
    hosts: tuple[str, ...]
    port: int
    limits: Limits
    private_key: PrivateKey | None
    tables_address: str
    tables_key: bytes


async def _serve(config: _WorkerConfig, ready: Queue[int]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    challenges, sessions = connect_auth_tables(
        config.tables_address, config.tables_key, config.limits
    )
    service = await config.make_service()
    server = await run_handle_server(
        service,
        config.hosts,
        config.port,
        limits=config.limits,
        private_key=config.private_key,
        challenges=challenges,
        sessions=sessions,
        reuse_port=True,
    )
    ready.put(server.port)
    try:
        await stop.wait()
    finally:
        await server.close()
        close = getattr(service.store, "close", None)
        if close is not None:
            await close()


def _worker_main(config: _WorkerConfig, ready: Queue[int]) -> None:
    try:
        run_event_loop(_serve(config, ready))
    except Exception as exc:
        log.error("handle worker failed: %r", exc)
        raise SystemExit(1) from None


def _reserve_port(host: str, port: int) -> socket.socket:
    """A bound, non-listening TCP socket holding ``port`` (a free one for 0)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(info[4])
    return sock


class WorkerPool:
    """Running worker processes; ``port`` is the port they share."""

    def __init__(
        self,
        processes: list[BaseProcess],
        tables: SharedAuthTables,
        reservation: socket.socket,
    ) -> None:
        self.processes = processes
        self.tables = tables
        self.reservation = reservation
        self.port: int = reservation.getsockname()[1]

    def alive(self) -> bool:
        """True while every worker runs."""
        return all(p.is_alive() for p in self.processes)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop, wait for them, then release the port and table."""
        for p in self.processes:
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    p.terminate()
        for p in self.processes:
            p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join()
        self.tables.close()
        self.reservation.close()


def start_workers(
    n: int,
    make_service: ServiceFactory,
    host: str | Sequence[str] = ("0.0.0.0", "::"),
    port: int = DEFAULT_PORT,
    *,
    limits: Limits = DEFAULT_LIMITS,
    private_key: PrivateKey | None = None,
    ready_timeout: float = 60.0,
) -> WorkerPool:
    """Start ``n`` worker processes serving TCP and UDP ``port`` on every host;
    return once every worker listens (RuntimeError if one dies or
    ``ready_timeout`` passes first).

    ``make_service`` runs in each worker and must be picklable (a module-level
    function or a ``functools.partial`` of one): workers are spawned, not forked.
    """
    hosts = (host,) if isinstance(host, str) else tuple(host)
    reservation = _reserve_port(hosts[0], port)
    ctx = multiprocessing.get_context("spawn")
    tables = SharedAuthTables()
    port = reservation.getsockname()[1]
    config = _WorkerConfig(
        make_service, hosts, port, limits, private_key, tables.address, tables.authkey
    )
    ready: Queue[int] = ctx.Queue()
    processes: list[BaseProcess] = []
    for number in range(max(1, n)):
        p = ctx.Process(
            target=_worker_main,
            args=(config, ready),
            name=f"idnode-handle-{number}",
            daemon=True,
        )
        p.start()
        processes.append(p)
    pool = WorkerPool(processes, tables, reservation)
    deadline = time.monotonic() + ready_timeout
    started = 0
    while started < len(processes):
        try:
            ready.get(timeout=0.2)
            started += 1
        except queue.Empty:
            if not pool.alive() or time.monotonic() > deadline:
                pool.stop()
                raise RuntimeError("a Handle worker did not start") from None
    return pool


def serve_workers(
    n: int,
    make_service: ServiceFactory,
    host: str | Sequence[str] = ("0.0.0.0", "::"),
    port: int = DEFAULT_PORT,
    *,
    limits: Limits = DEFAULT_LIMITS,
    private_key: PrivateKey | None = None,
) -> int:
    """Run ``n`` workers (see :func:`start_workers`) until SIGINT or SIGTERM or
    until a worker dies; return the process exit status (0 when stopped by a
    signal)."""
    pool = start_workers(
        n, make_service, host, port, limits=limits, private_key=private_key
    )
    stopped = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopped and pool.alive():
            multiprocessing.connection.wait([p.sentinel for p in pool.processes], timeout=1.0)
    finally:
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopped else 1
