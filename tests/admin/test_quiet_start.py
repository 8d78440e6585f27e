"""A command that has nothing to warn about prints nothing on stderr.

cryptography 51 deprecated DSA and warns on any use of its ``dsa`` names; idnode
keeps DSA for CNRI compatibility (``protocol/dsa_keys.py``) and must not put
that warning on the screen of a user who holds no DSA key.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.admin.conftest import REPO, Node, idnode


def test_help_and_status_print_no_warning(tmp_path: Path) -> None:
    result = idnode(tmp_path / "node", "--help")
    assert result.returncode == 0
    assert result.stderr == ""


def test_every_command_module_imports_without_a_warning() -> None:
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import pkgutil, importlib, admin.commands, protocol.crypto, protocol.public_key;"
        "[importlib.import_module('admin.commands.' + m.name)"
        " for m in pkgutil.iter_modules(admin.commands.__path__)]"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_write_prints_nothing_on_stderr(node: Node) -> None:
    result = node.run("handle", "create", "88.118.8/QUIET-1", "--value", "1:URL:https://example.com/q")
    assert result.stderr == ""
