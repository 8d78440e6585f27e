"""README's commands work as written, and every handle README and the ``--help`` examples
name exists in the demo data that ``init --demo`` (``make run``) loads.

The README blocks are run for real: the demo block on a node made by ``init --demo``
(for ``idnode-data``), the own-node block on a fresh data dir (for ``n``), from the top
of the clone so the ``examples/`` files are found.  Two lines are not run, each for a
reason the README states next to it: ``serve`` runs until stopped (it needs Redis
there) and ``stats report --upper`` needs the upper node.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from admin.cli import build_parser
from tests.admin.conftest import REPO, idnode

README = REPO / "README.md"
#: an identifier handle (88.118.8/TV-0000001) or a prefix handle (0.NA/88.118.8)
HANDLE = re.compile(r"(?<![\w.:/-])((?:0\.NA/)?\d+(?:\.\d+)+(?:/[A-Za-z0-9][A-Za-z0-9._-]*"
                    r"[A-Za-z0-9])?)")
#: not run: long-running, or needing a service outside this machine
NOT_RUN = (" serve ", " stats report --upper ")
#: handles examples name on purpose that demo data does not hold: the root's prefix handle
#: (cert issue signs as the root's admin), and the prefix handle of the new prefix the
#: ``prefix create`` example makes (``prefix home`` then homes it), and the handle the
#: README's root -> node -> enterprise walkthrough creates on its own enterprise node
ELSEWHERE = {"0.NA/88", "0.NA/88.118.20", "88.118.9/PUMP-1"}


def sh_blocks(text: str) -> list[list[str]]:
    """The ``idnode`` command lines of each ```sh block, comments removed."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [[line.split("  #")[0].strip() for line in block.splitlines()
             if line.startswith("idnode ")] for block in blocks]


def help_texts() -> Iterator[str]:
    """``--help`` of ``idnode`` and of every command and sub-command."""
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        yield parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending += list(action.choices.values())


def example_handles() -> set[str]:
    """Every handle README or a ``--help`` example names (prefixes alone are not handles)."""
    texts = [README.read_text(encoding="utf-8"), *help_texts()]
    found = {m for text in texts for m in HANDLE.findall(text) if "/" in m}
    return found - ELSEWHERE


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("readme") / "idnode-data"
    made = idnode(data_dir, "init", "--demo")
    assert made.returncode == 0, made.stderr
    return data_dir


def test_every_example_handle_is_in_the_demo_data(demo: Path) -> None:
    handles = example_handles()
    assert "88.118.8/TV-0000001" in handles and "88.118.9/WL-0000010" in handles  # found
    missing = [h for h in sorted(handles)
               if idnode(demo, "handle", "get", h).returncode != 0]
    assert missing == []


def run_block(lines: list[str], data_dir_name: str, data_dir: Path) -> None:
    for line in lines:
        if any(skip in f"{line} " for skip in NOT_RUN):
            continue
        words = shlex.split(line)
        assert words[:3] == ["idnode", "--data-dir", data_dir_name], line
        result = idnode(data_dir, *words[3:])
        assert result.returncode == 0, (line, result)
        # stderr carries progress lines only: no error, warning or traceback
        assert not re.search(r"idnode:|Warning|Traceback", result.stderr), (line, result)


def test_readme_blocks_run_as_written(demo: Path, tmp_path: Path) -> None:
    blocks = {lines[0].split()[2]: lines for lines in sh_blocks(README.read_text("utf-8"))
              if lines and lines[0].startswith("idnode --data-dir ")}
    assert set(blocks) >= {"idnode-data", "n"}
    run_block(blocks["idnode-data"], "idnode-data", demo)
    run_block(blocks["n"], "n", tmp_path / "n")
    assert (REPO / "examples" / "products.jsonl").is_file()
