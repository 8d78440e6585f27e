"""A real ``idnode serve`` on free loopback ports for the benchmark tools' tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.resolver.test_e2e import REPO, free_port


@contextlib.contextmanager
def serving(folder: Path, env: Mapping[str, str], *args: str) -> Iterator[tuple[int, int]]:
    """Serve the node in ``folder`` (``env`` added to the environment); its HTTP and
    Handle ports."""
    http_port, handle_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(folder), "serve",
         "--handle-port", str(handle_port), "--http-port", str(http_port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, **env},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        pytest.fail(f"serve did not start: {line!r} {process.communicate()[1][-2000:]}")
    try:
        yield http_port, handle_port
    finally:
        process.terminate()
        process.communicate(timeout=30)
