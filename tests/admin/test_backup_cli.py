"""``idnode backup`` / ``restore`` on SQLite: a consistent copy, restored and audit-verified."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from admin.context import EXIT_FAILED
from tests.admin.conftest import Node, idnode


def test_backup_and_restore_into_a_fresh_data_dir(node: Node, tmp_path: Path) -> None:
    for n in range(3):
        node.run("handle", "create", f"88.118.8/BK-{n}", "--value", f"1:URL:https://e.com/{n}")
    copy = tmp_path / "registry-copy.db"
    assert str(copy) in node.run("backup", str(copy)).stdout
    refused = node.run("backup", str(copy), expect=EXIT_FAILED)
    assert "exists" in refused.stderr
    fresh = tmp_path / "restored-node"
    restored = idnode(fresh, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert "audit chain intact" in restored.stdout
    got = idnode(fresh, "handle", "get", "88.118.8/BK-2")
    assert got.returncode == 0 and "https://e.com/2" in got.stdout
    again = idnode(fresh, "restore", str(copy))
    assert again.returncode == EXIT_FAILED and "exists" in again.stderr


def test_a_tampered_backup_restores_but_fails_the_audit(node: Node, tmp_path: Path) -> None:
    node.run("handle", "create", "88.118.8/BK-X", "--value", "1:URL:https://e.com/x")
    copy = tmp_path / "copy.db"
    node.run("backup", str(copy))
    with sqlite3.connect(copy) as db:   # left open: whatever journal it keeps must count
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = "
                   "(SELECT max(seq) FROM audit_log)")
    restored = idnode(tmp_path / "other", "restore", str(copy))
    assert restored.returncode == EXIT_FAILED and "BROKEN" in restored.stdout
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    refused = idnode(tmp_path / "third", "restore", str(junk))
    assert refused.returncode == EXIT_FAILED and "not an intact SQLite database" in refused.stderr
