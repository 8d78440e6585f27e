"""Running ``idnode`` commands in this process (no interpreter start-up per command); no tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from admin.cli import main
from tests.admin.conftest import Node


@dataclass
class Result:
    """What one command printed and its exit code."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """``idnode --data-dir NODE ...`` run through :func:`admin.cli.main`."""

    node: Node
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str, expect: int = 0) -> Result:
        """Run a command and check its exit code."""
        code = main(["--data-dir", str(self.node.data_dir), *args])
        out, err = self.capsys.readouterr()
        assert code == expect, (code, out, err)
        return Result(code, out, err)

    def json(self, *args: str, expect: int = 0) -> Any:
        """Run a command with ``--json`` and parse its output."""
        return json.loads(self.run("--json", *args, expect=expect).stdout)

