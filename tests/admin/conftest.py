"""Running ``idnode`` as a subprocess on a fresh node.

``node`` is an initialised data dir (a copy of one made once per session, so
the RSA key generation is paid once) with a :class:`Node` to run commands in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def idnode(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``idnode --data-dir DATA_DIR ARGS...``; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )


@dataclass
class Node:
    """A node's data dir and shortcuts to run commands in it."""

    data_dir: Path

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run a command and check its exit code."""
        result = idnode(self.data_dir, *args)
        assert result.returncode == expect, (result.returncode, result.stdout, result.stderr)
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        """Run a command with ``--json`` and parse its output."""
        return json.loads(self.run("--json", *args, expect=expect).stdout)

    @property
    def db(self) -> Path:
        """The SQLite registry file."""
        return self.data_dir / "registry.db"


@pytest.fixture(scope="session")
def initialised_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One node made by ``idnode init`` with an enterprise ACME at 88.118.8."""
    data_dir = tmp_path_factory.mktemp("template") / "node"
    for args in (("init",),
                 ("enterprise", "add", "ACME", "--name", "Acme Appliances",
                  "--industry", "appliance", "--prefix", "88.118.8")):
        result = idnode(data_dir, *args)
        assert result.returncode == 0, result.stderr
    return data_dir


@pytest.fixture
def node(initialised_template: Path, tmp_path: Path) -> Iterator[Node]:
    """A private copy of the initialised node."""
    data_dir = tmp_path / "node"
    shutil.copytree(initialised_template, data_dir)
    yield Node(data_dir)
