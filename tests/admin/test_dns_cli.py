"""``idnode dns name|handle`` as a subprocess: the mapping both ways and a clear error."""

import json
import subprocess
import sys
from pathlib import Path


def idnode(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_name_and_back(tmp_path: Path) -> None:
    handle = "88.118.8/Ünïcode_ID #1"
    named = idnode(tmp_path, "dns", "name", handle, "--zone", "id.example.")
    assert named.returncode == 0, named.stderr
    name = named.stdout.strip()
    assert name.endswith("._.8.118.88.id.example.")
    back = idnode(tmp_path, "--json", "dns", "handle", name, "--zone", "id.example.")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["handle"] == handle


def test_name_outside_zone_is_one_line_error(tmp_path: Path) -> None:
    result = idnode(tmp_path, "dns", "handle", "www.example.org.")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "not in zone" in result.stderr
