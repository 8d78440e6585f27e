"""HTTPS under uvloop, as ``idnode serve`` runs it: every handshake completes.

The site used to start TLS on a transport the loop already read from; uvloop
delivers the ClientHello even when reading is paused in ``connection_made``,
so it went to the wrong protocol and most handshakes timed out (46 of 60
here).  Clients are plain blocking sockets in threads, as real clients are
other processes: their ClientHello is on the wire before the server's loop
sees the connection."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from pathlib import Path

import uvloop

from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.http.api import run_http_server
from tests.resolver.http.test_rest_harness import self_signed_context

CLIENTS, EACH = 4, 15


def _fetch(port: int, count: int, seen: list[str]) -> None:
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    for _ in range(count):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    client.wrap_socket(raw) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                seen.append(tls.recv(12).decode())
        except OSError as exc:
            seen.append(type(exc).__name__)


async def _serve_and_fetch(tmp_path: Path) -> Counter[str]:
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}")
    runner, port = await run_http_server(ResolutionService(store), "127.0.0.1", 0,
                                         ssl_context=self_signed_context(tmp_path))
    seen: list[str] = []
    try:
        threads = [threading.Thread(target=_fetch, args=(port, EACH, seen))
                   for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        await asyncio.gather(*(asyncio.to_thread(thread.join) for thread in threads))
    finally:
        await runner.cleanup()
        await store.close()
    return Counter(seen)


def test_every_tls_handshake_completes_under_uvloop(tmp_path: Path) -> None:
    assert uvloop.run(_serve_and_fetch(tmp_path)) == {"HTTP/1.1 200": CLIENTS * EACH}
