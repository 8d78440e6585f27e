"""F13 (issue 18): ``kill -9`` of the ``serve --workers`` parent leaves nothing behind:
no worker, no auth-table manager, no resource tracker, no auth socket directory."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from tests.resolver.worker_pool import start_pool


def _auth_dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("idnode-auth-")]


def test_kill_9_of_the_parent_leaves_no_process_and_no_socket_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the node's temporary files, and only those
    pool = start_pool(tmp_path / "node", 2)
    try:
        assert len(pool.children) >= 2  # the other worker and the auth-table manager
        assert len(_auth_dirs(tmp)) == 1
        pool.process.kill()
        pool.process.wait(timeout=30)
        _, alive = psutil.wait_procs(pool.children, timeout=30)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        for _ in range(300):  # the manager removes its directory as it goes
            if not _auth_dirs(tmp):
                break
            time.sleep(0.1)
        assert _auth_dirs(tmp) == []
    finally:
        for child in pool.children:
            if child.is_running():
                child.kill()
