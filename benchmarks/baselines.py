"""Baseline servers: the same transports as the node with no work behind them.

``python -m benchmarks.baselines --http-port P --udp-port Q --body-size B
--sample FILE [--processes N]`` serves

* HTTP ``GET /api/handles/{handle}`` with a fixed JSON body of ``B`` bytes
  (the size of a typical resolution) from a bare aiohttp application, and
* UDP: a bare asyncio reply loop answering each datagram with a canned
  Handle response (``FILE`` holds it in hex, as a TCP frame captured from
  the node for a typical handle), cut into datagrams as a server does, with
  the request's id and no size cap, and
* TCP on the same port: the same canned response as one frame per request.

Both run on uvloop like the node; ``--processes N`` shares the ports among
N processes with SO_REUSEPORT, as ``idnode serve --workers N`` does.  One
line ``baseline ... serving`` on stdout says it is ready.  What the node
adds on top of these (decoding, lookup, encoding) is what the benchmark
ratios show.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import socket
from pathlib import Path
from typing import cast

import uvloop
from aiohttp import web

from benchmarks.hdl_wire import message_length, request_id_of, udp_pieces, with_request_id


def json_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes shaped like a resolution answer."""
    head = b'{"responseCode":1,"handle":"88.118.8/BASELINE","values":[],"pad":"'
    tail = b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def http_app(body: bytes) -> web.Application:
    """The bare endpoint: every handle gets ``body``."""

    async def resolve(request: web.Request) -> web.Response:
        del request
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/handles/{handle:.+}", resolve)
    return app


class CannedUdp(asyncio.DatagramProtocol):
    """Answers every datagram with ``reply`` under the request's id."""

    def __init__(self, reply: list[bytes]) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop: no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) < 20 or self.transport is None:
            return
        request_id = request_id_of(data)
        for piece in self.reply:
            self.transport.sendto(with_request_id(piece, request_id), addr)


class CannedTcp(asyncio.Protocol):
    """Answers every framed request on a connection with ``frame``."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 20 and self.transport is not None:
            end = 20 + message_length(self.buffer)
            if len(self.buffer) < end:
                return
            request_id = request_id_of(self.buffer)
            self.buffer = self.buffer[end:]
            self.transport.write(with_request_id(self.frame, request_id))


def _udp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((host, port))
    return sock


async def serve(args: argparse.Namespace, frame: bytes, announce: bool) -> None:
    """Run the servers, answering with ``frame``, until SIGTERM/SIGINT."""
    reply = udp_pieces(frame)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: CannedUdp(reply), sock=_udp_socket(args.host, args.udp_port)
    )
    tcp = await loop.create_server(lambda: CannedTcp(frame), args.host,
                                   args.udp_port, reuse_port=True)
    runner = web.AppRunner(http_app(json_body(args.body_size)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.http_port, reuse_port=True).start()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if announce:
        print(f"baseline http {args.http_port} udp+tcp {args.udp_port} "
              f"body {args.body_size} B, {len(reply)} datagrams serving", flush=True)
    try:
        await stop.wait()
    finally:
        transport.close()
        tcp.close()
        await runner.cleanup()


def _worker(args: argparse.Namespace, frame: bytes) -> None:
    uvloop.run(serve(args, frame, announce=False))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--udp-port", type=int, required=True)
    parser.add_argument("--body-size", type=int, required=True)
    parser.add_argument("--sample", required=True, help="file with a response frame in hex")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    frame = bytes.fromhex(Path(args.sample).read_text().strip())
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_worker, args=(args, frame), daemon=True)
                for _ in range(args.processes - 1)]
    for child in children:
        child.start()
    try:
        uvloop.run(serve(args, frame, announce=True))
    finally:
        for child in children:
            child.terminate()
            child.join(5)


if __name__ == "__main__":
    main()
