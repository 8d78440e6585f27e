"""``idnode serve --workers N`` as a test fixture: a data dir, fixed ports, the processes.

``start_pool(folder, workers, seed=...)`` runs ``idnode init`` in ``folder``,
lets ``seed`` write into the node's registry, starts ``serve --workers N`` and
waits for its ``serving`` line; ``Pool.stop()`` sends SIGTERM and checks that
every process of the pool (workers and helpers) is gone.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from registry.store import HandleStore
from tests.resolver.test_e2e import REPO, free_port

Seed = Callable[[HandleStore], Awaitable[object]]


@dataclass
class Pool:
    """A running ``serve --workers`` and where it listens."""

    folder: Path
    handle_port: int
    http_port: int
    process: subprocess.Popen[str]
    children: list[psutil.Process]
    ready_line: str = ""

    @property
    def port(self) -> int:
        return self.handle_port

    def alive(self) -> bool:
        return self.process.poll() is None and all(c.is_running() for c in self.children)

    def workers(self) -> int:
        return 1 + sum("--worker-child" in " ".join(c.cmdline()) for c in self.children)

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)
        assert self.process.returncode == 0
        _, alive = psutil.wait_procs(self.children, timeout=20)  # helpers exit after the parent
        assert not alive


def idnode(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "admin.cli", "--data-dir", str(folder), *args]


def start_pool(folder: Path, workers: int, seed: Seed | None = None) -> Pool:
    """Initialise ``folder``, seed its registry, and serve it with ``workers`` processes."""
    handle_port, http_port = free_port(), free_port()
    subprocess.run(idnode(folder, "init"), check=True, capture_output=True, cwd=REPO, timeout=120)
    if seed is not None:
        asyncio.run(_seed(folder, seed))
    process = subprocess.Popen(
        idnode(folder, "serve", "--workers", str(workers), "--handle-port", str(handle_port),
               "--http-port", str(http_port)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        raise AssertionError(f"serve did not start: {line!r} {process.communicate()[1][-2000:]}")
    children = psutil.Process(process.pid).children(recursive=True)
    return Pool(folder, handle_port, http_port, process, children, line)


async def _seed(folder: Path, seed: Seed) -> None:
    store = await HandleStore.open(f"sqlite:///{folder / 'registry.db'}")
    try:
        await seed(store)
    finally:
        await store.close()
