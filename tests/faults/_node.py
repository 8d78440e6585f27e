"""An ``idnode serve`` subprocess to kill, restart and check, and the data it is seeded with.

The node hosts prefix ``88.118.8`` as :func:`benchmarks.soak.seed` makes it
(``0.NA/88.118.8`` administered by its own ``300`` HS_SECKEY); :func:`seed`
adds ``88.118.8/nobody``, an identity with a secret key of its own
(:data:`NOBODY_SECRET`) and no rights anywhere.  :func:`running_node` serves
the same data in this process, for tests that watch its logs or its tasks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import soak
from protocol.references import encode_secret_key
from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.node import RunningNode, start_node

REPO = Path(__file__).resolve().parents[2]
NOBODY = "88.118.8/nobody"
NOBODY_SECRET = b"faults-nobody-secret-91c2"


async def seed(url: str, schema: str | None = None, cold: int = 0) -> None:
    """The soak's prefix handle (and ``cold`` handles), plus the unprivileged identity."""
    await soak.seed(url, schema, cold)
    store = await HandleStore.open(url, schema=schema)
    try:
        await store.create_handle(
            NOBODY,
            [HandleValue(300, "HS_SECKEY", encode_secret_key(NOBODY_SECRET),
                         public_read=False)],
            actor="faults",
        )
    finally:
        await store.close()


@asynccontextmanager
async def running_node(data_dir: Path, **settings: Any) -> AsyncIterator[RunningNode]:
    """A seeded node served in this process on ephemeral ports (REST auth over plain HTTP)."""
    config = NodeConfig(data_dir=data_dir, handle_port=0, http_port=0, dns_port=0,
                        http_insecure_auth=True, **settings)
    await seed(config.effective_database_url)
    node = await start_node(config)
    try:
        yield node
    finally:
        await node.close()


@dataclass
class NodeProcess:
    """``idnode serve`` on a data dir with ``env`` (``IDNODE_*`` settings) added."""

    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    handle_port: int = 0
    http_port: int = 0
    process: subprocess.Popen[str] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The Handle protocol address (TCP and UDP)."""
        return "127.0.0.1", self.handle_port

    @property
    def base_url(self) -> str:
        """The HTTP front end."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def database_url(self) -> str:
        """The registry this node uses."""
        return self.env.get("IDNODE_DATABASE_URL") or f"sqlite:///{self.data_dir / 'registry.db'}"

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema of the registry, if one is set."""
        return self.env.get("IDNODE_DATABASE_SCHEMA") or None

    def cli(self, *args: str) -> list[str]:
        """An ``idnode`` command line for this node's data dir."""
        return [sys.executable, "-m", "admin.cli", "--data-dir", str(self.data_dir), *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an ``idnode`` command with this node's settings; never raises on failure."""
        return subprocess.run(self.cli(*args), capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=REPO, env=self.environment())

    def environment(self) -> dict[str, str]:
        """The environment of this node's commands: ours plus its settings."""
        return {**os.environ, "IDNODE_HTTP_INSECURE_AUTH": "true", "IDNODE_LOG_LEVEL": "WARNING",
                **self.env}

    @property
    def log_path(self) -> Path:
        """Where the node's stderr goes (appended to across restarts)."""
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def start(self) -> None:
        """Start serving (on the ports of the last run, else ephemeral ones) and wait."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            self.process, self.handle_port, self.http_port = soak.start_node(
                self.data_dir, self.env, handle_port=self.handle_port,
                http_port=self.http_port, log=log)

    async def start_async(self) -> None:
        """:meth:`start` off the event loop."""
        await asyncio.to_thread(self.start)

    def kill(self) -> None:
        """SIGKILL the node and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.communicate(timeout=10)

    def stop(self) -> None:
        """SIGTERM the node and wait for it (SIGKILL after 20 s); its log stays in
        :attr:`log_path`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    async def open_store(self) -> HandleStore:
        """The node's registry, opened directly (for checking what was stored)."""
        return await HandleStore.open(self.database_url, schema=self.schema)

