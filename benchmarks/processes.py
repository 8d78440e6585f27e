"""Starting and stopping the processes a benchmark talks to, and their scratch resources.

Servers run as subprocesses (``idnode serve``, ``benchmarks.baselines``) on
fixed free loopback ports; each writes its output to a log file in the
results folder and is ready when a line ending in ``serving`` appears.
Everything started here is stopped by process id (SIGTERM, then SIGKILL).
PostgreSQL runs use a scratch database dropped afterwards; Redis runs use a
Redis database and key prefix no one else uses, whose keys are deleted
afterwards (the shared Redis is never flushed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from registry.config import NodeConfig

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
REDIS_DATABASES = range(15, 7, -1)


class BenchError(RuntimeError):
    """A benchmark step that could not be done; the message says which and why."""


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports free for both TCP and UDP right now."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def idnode_argv(data_dir: Path, *args: str) -> list[str]:
    """The command line of ``idnode --data-dir DATA_DIR ARGS`` in this interpreter."""
    return [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir), *args]


def run_idnode(data_dir: Path, *args: str, env: Mapping[str, str] | None = None,
               timeout: float = 600.0) -> str:
    """Run an ``idnode`` command to completion; its stdout, or BenchError."""
    done = subprocess.run(idnode_argv(data_dir, *args), capture_output=True, text=True,
                          timeout=timeout, env=_env(env), check=False)
    if done.returncode != 0:
        raise BenchError(f"idnode {' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNODE_")}
    env.update(extra or {})
    return env


@dataclass
class Server:
    """A started server process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT seconds; waits for the exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


def start_server(name: str, argv: Sequence[str], log: Path,
                 env: Mapping[str, str] | None = None) -> Server:
    """Start ``argv`` and wait for its ``serving`` line (BenchError if it never comes).

    The server gets a session of its own, as one started by an init system or by its
    own scripts (a peer's) has: where the kernel schedules by autogroup (Linux's
    ``sched_autogroup_enabled``), each session is a group that gets its share of the
    cores, so a server in the load tool's session would share the load tool's share
    task by task while a peer in its own session competes with it group to group."""
    with log.open("wb") as out:
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                   env=_env(env), start_new_session=True)
    server = Server(name, process, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if any(line.rstrip().endswith("serving") for line in text.splitlines()):
            return server
        if process.poll() is not None:
            break
        time.sleep(0.1)
    server.stop()
    tail = log.read_text(errors="replace").strip()[-800:]
    raise BenchError(f"{name} did not start (see {log}): {tail}")


@contextlib.contextmanager
def scratch_postgres(base_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``base_url``'s server; dropped afterwards."""
    import psycopg

    name = f"idnode_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {base_url} is not usable: {exc}") from exc
    parts = urlsplit(base_url)
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class RedisSlot:
    """Where a node keeps its Redis keys: a URL (with database) and a key prefix."""

    url: str
    prefix: str
    env: dict[str, str]

    def key_count(self) -> int:
        """How many keys the node wrote."""
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=5) as client:
            return sum(1 for _ in client.scan_iter(match=self.prefix + "*", count=1000))

    def clean(self) -> None:
        """Delete the node's keys (only those)."""
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=5) as client:
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start:start + 1000])


def redis_slot(base_url: str, node_prefix: str) -> RedisSlot:
    """A key prefix no one else uses on the Redis at ``base_url``.

    When the node's configuration has a ``redis_prefix`` setting, a fresh
    ``bench:<hex>:`` prefix is passed in IDNODE_REDIS_PREFIX; otherwise the
    node uses its default ``idnode:<prefix>:`` in the first Redis database
    (15 down to 8) that holds no such keys.
    """
    import redis

    if "redis_prefix" in NodeConfig.__dataclass_fields__:
        prefix = f"bench:{uuid.uuid4().hex[:12]}:"
        return RedisSlot(base_url, prefix, {"IDNODE_REDIS_PREFIX": prefix})
    prefix = f"idnode:{node_prefix}:"
    parts = urlsplit(base_url)
    try:
        for db in REDIS_DATABASES:
            url = urlunsplit(parts._replace(path=f"/{db}"))
            with redis.Redis.from_url(url, socket_timeout=5) as client:
                if next(iter(client.scan_iter(match=prefix + "*", count=1000)), None) is None:
                    return RedisSlot(url, prefix, {})
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {base_url} is not usable: {exc}") from exc
    raise BenchError(f"every Redis database 8-15 already holds {prefix}* keys")
