"""F13 (issue 18): ``kill -9`` of the ``serve --workers`` parent leaves nothing behind:
no worker, no helper process, no temporary files.  (The workers share challenges and
sessions through the registry database, so there is no manager process or socket.)"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.resolver.worker_pool import start_pool


def test_kill_9_of_the_parent_leaves_no_process_and_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the node's temporary files, and only those
    pool = start_pool(tmp_path / "node", 2)
    try:
        assert len(pool.children) >= 1  # the other worker
        pool.process.kill()
        pool.process.wait(timeout=30)
        _, alive = psutil.wait_procs(pool.children, timeout=30)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert list(tmp.iterdir()) == []
    finally:
        for child in pool.children:
            if child.is_running():
                child.kill()
