"""The cold peer of a benchmark run: another Handle server (e.g. CNRI's) asked, as the
node's cold profile is, for handles no one has asked it for since it started.

* ``--peer-cold HOST:PORT``: its Handle port (the driver asks over UDP);
* ``--peer-cold-handles FILE``: the handles it holds, one per line, walked from the top,
  each asked at most once;
* ``--peer-cold-restart CMD``: a shell command run before its cold run that stops and
  starts it (empty caches).  The bench then asks it for a handle that is not in FILE
  until it answers (any response code), and only then starts measuring.

A peer on this machine's loopback has its CPU time per answer read too (the process
holding its UDP port, :func:`listening_pid`).

The cold profile runs the peer right after the node's cold runs of each setup, with the
driver settings and the budget of the node's cold Handle UDP run (:mod:`benchmarks.run`).
Errors name the option and the input that caused them.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import random
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.hdl_wire import request_id_of, resolution_datagram
from benchmarks.processes import BenchError
from benchmarks.workload import KeyFile

#: seconds the restart command may take, and then the peer to answer
RESTART_TIMEOUT = 600.0
PROBE_INTERVAL = 0.2


@dataclass(frozen=True)
class ColdPeer:
    """Where the cold peer listens, what it holds and how to restart it."""

    host: str
    port: int
    handles: Path
    restart: str = ""

    @property
    def name(self) -> str:
        """``HOST:PORT``, as results name it."""
        return f"{self.host}:{self.port}"

    def key_file(self, path: Path) -> KeyFile:
        """The handles of ``--peer-cold-handles`` as a key file written to ``path``."""
        keys = KeyFile(read_handles(self.handles), miss_prefix=self.prefix())
        keys.save(path)
        return keys

    def prefix(self) -> str:
        """The prefix of the first handle listed."""
        return read_handles(self.handles, 1)[0].partition("/")[0]


def read_handles(path: Path, limit: int = 0) -> tuple[str, ...]:
    """The handles listed in ``path`` (one per line; blank lines skipped), the first
    ``limit`` only if given; ValueError naming the option if there are none."""
    found: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            handle = line.strip()
            if handle:
                found.append(handle)
                if len(found) == limit:
                    break
    if not found:
        raise ValueError(f"--peer-cold-handles: {path} lists no handles")
    return tuple(found)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); ValueError naming the input if malformed."""
    host, colon, port = text.rpartition(":")
    if not (colon and host and port.isdigit()):
        raise ValueError(f"--peer-cold: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ``--peer-cold*`` options."""
    parser.add_argument("--peer-cold", default="", metavar="HOST:PORT",
                        help="cold profile: another Handle server's Handle port, asked for "
                        "--peer-cold-handles right after the node's cold runs")
    parser.add_argument("--peer-cold-handles", type=Path, metavar="FILE",
                        help="cold profile: the handles the cold peer holds, one per line")
    parser.add_argument("--peer-cold-restart", default="", metavar="CMD",
                        help="cold profile: shell command that restarts the cold peer "
                        "(run before each of its cold runs)")


def cold_peer_from_args(args: argparse.Namespace) -> ColdPeer | None:
    """The cold peer the options describe (None without ``--peer-cold``); ValueError naming
    the option at fault."""
    if not args.peer_cold:
        others = [name for name, value in (("--peer-cold-handles", args.peer_cold_handles),
                                           ("--peer-cold-restart", args.peer_cold_restart))
                  if value]
        if others:
            raise ValueError(f"{', '.join(others)} need(s) --peer-cold HOST:PORT")
        return None
    host, port = parse_address(args.peer_cold)
    if args.peer_cold_handles is None:
        raise ValueError("--peer-cold needs --peer-cold-handles FILE")
    if not args.peer_cold_handles.is_file():
        raise ValueError(f"--peer-cold-handles: no such file {args.peer_cold_handles}")
    return ColdPeer(host, port, args.peer_cold_handles, args.peer_cold_restart)


def restart(peer: ColdPeer, timeout: float = RESTART_TIMEOUT) -> float:
    """Run the restart command (if any), then wait until the peer answers a handle that is
    not in its list; the seconds that took.  BenchError if the command fails or the peer
    does not answer within ``timeout``."""
    started = time.monotonic()
    if peer.restart:
        # a command line the bench's user wrote, run as the shell would
        done = subprocess.run(["/bin/sh", "-c", peer.restart], capture_output=True,
                              text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise BenchError(f"--peer-cold-restart exited with {done.returncode}: "
                             f"{(done.stderr or done.stdout).strip()[-500:]}")
    probe = f"{peer.prefix()}/IDNODE-BENCH-PROBE-{random.getrandbits(48):012x}"
    deadline = started + timeout
    while not answers(peer, probe):
        if time.monotonic() > deadline:
            raise BenchError(f"the cold peer {peer.name} did not answer {probe} within "
                             f"{timeout:.0f} s of --peer-cold-restart")
    return time.monotonic() - started


def answers(peer: ColdPeer, handle: str) -> bool:
    """Whether the peer answers a UDP resolution request for ``handle`` (any code) within
    PROBE_INTERVAL seconds."""
    request_id = random.getrandbits(30)
    with socket.socket(socket.AF_INET6 if ":" in peer.host else socket.AF_INET,
                       socket.SOCK_DGRAM) as sock:
        sock.settimeout(PROBE_INTERVAL)
        try:
            sock.sendto(resolution_datagram(handle, request_id), (peer.host, peer.port))
            deadline = time.monotonic() + PROBE_INTERVAL
            while time.monotonic() < deadline:
                packet = sock.recv(65535)
                if request_id_of(packet) == request_id:
                    return True
        except OSError:  # refused (nothing listening yet) or timed out
            time.sleep(PROBE_INTERVAL / 4)
    return False


def listening_pid(host: str, port: int) -> int:
    """The id of the process on this machine holding a UDP socket on ``port`` when ``host``
    is a loopback address (so its CPU time can be read); 0 when there is none or it cannot
    be told."""
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(host).is_loopback:
            return 0
    sockets: set[str] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rpartition(":")[2], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir() if sockets else ():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in (proc / "fd").iterdir()):
                return int(proc.name)
    return 0
