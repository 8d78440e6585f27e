"""Private PostgreSQL and Redis servers a fault test may stop and start at will.

The suite's shared PostgreSQL (5432) and Redis (6379) serve other test runs
and are never touched here.  :class:`PrivatePostgres` makes a throw-away
cluster with ``initdb`` in a temp folder, owned by and run as the ``postgres``
user (``runuser``; PostgreSQL refuses to run as root), with trust auth on an
ephemeral loopback port.  :class:`PrivateRedis` runs ``redis-server`` on an
ephemeral port, without persistence.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"no PostgreSQL {name} under /usr/lib/postgresql")
    return found[-1]


def postgres_available() -> bool:
    """Whether a private cluster can be made here (binaries, ``runuser``, root)."""
    try:
        _pg_bin("initdb")
    except FileNotFoundError:
        return False
    return shutil.which("runuser") is not None and os.geteuid() == 0


class PrivatePostgres:
    """A PostgreSQL cluster of our own: :meth:`start`, :meth:`stop`, :meth:`close`.

    With ``standby_of`` (a running cluster) it is a streaming replica of that
    one, made with ``pg_basebackup -R`` (initdb's trust rules allow the
    replication connection from 127.0.0.1).
    """

    def __init__(self, standby_of: PrivatePostgres | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="idnode-faults-pg-"))
        self.port = free_port()
        shutil.chown(self.folder, "postgres", "postgres")
        if standby_of is None:
            self._as_postgres(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust",
                              "-U", "postgres", "--no-sync")
        else:
            self._as_postgres(_pg_bin("pg_basebackup"), "-D", str(self.data), "-R",
                              "-h", "127.0.0.1", "-p", str(standby_of.port), "-U", "postgres",
                              "-X", "stream", "--checkpoint=fast", "--no-sync")

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.folder / "data"

    @property
    def url(self) -> str:
        """A URL of the cluster's ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       capture_output=True, timeout=120, cwd=self.folder)

    def start(self) -> None:
        """Start the server and wait until it accepts queries."""
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-l",
                          str(self.folder / "server.log"), "-o", options, "-w", "start")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def sql(self, statement: str) -> object:
        """Run ``statement`` in the ``postgres`` database; the first column of its first row."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(statement).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` closes sessions; ``immediate`` is a crash)."""
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of our own on an ephemeral port; with ``replica_of`` (a port)
    a replica of that server; with ``sentinel_of`` (a port) a Redis Sentinel
    watching that master as ``mymaster`` (quorum 2, down after 1 s)."""

    def __init__(self, replica_of: int | None = None, sentinel_of: int | None = None) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.replica_of = replica_of
        self.sentinel_of = sentinel_of
        self.folder = Path(tempfile.mkdtemp(prefix="idnode-faults-redis-"))

    def _command(self) -> list[str]:
        if self.sentinel_of is None:
            extra = [] if self.replica_of is None else [
                "--replicaof", "127.0.0.1", str(self.replica_of)]
            return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", str(self.folder),
                    "--repl-diskless-sync-delay", "0", *extra]
        config = self.folder / "sentinel.conf"  # a sentinel rewrites its own config file
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.folder}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.sentinel_of} 2\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
            "sentinel failover-timeout mymaster 10000\n"
            "sentinel parallel-syncs mymaster 1\n"
        )
        return ["redis-server", str(config), "--sentinel"]

    @property
    def url(self) -> str:
        """The server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait for its port."""
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server (SIGKILL: an outage, not a shutdown) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        """Kill the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
