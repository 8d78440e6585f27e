"""``idnode serve --welcome`` (what ``make run`` ends with): every URL it prints answers,
the printed credentials-and-curl lines really write a handle, and nothing lands on stderr."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.admin.conftest import REPO, idnode
from tests.admin.test_resolve_cli import free_port

START_TIMEOUT = 60


@pytest.fixture(scope="module")
def demo_node(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A node made by ``init --demo`` on fresh ports (as ``make run`` makes one)."""
    data_dir = tmp_path_factory.mktemp("welcome") / "idnode-data"
    handle_port, http_port = free_port(), free_port()
    made = idnode(data_dir, "init", "--demo", "--if-missing", "--handle-port", str(handle_port),
                  "--http-port", str(http_port))
    assert made.returncode == 0 and made.stderr == "", made
    return data_dir, handle_port, http_port


def welcome(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``serve --welcome``; the process and the lines up to "Stop with Ctrl-C."."""
    process = subprocess.Popen(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir), "serve", "--welcome"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **env})
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "Stop with Ctrl-C.":
        line = process.stdout.readline()
        assert line, (lines, process.stderr.read() if process.stderr else "")
        lines.append(line.rstrip("\n"))
    return process, lines


def stop(process: subprocess.Popen[str]) -> str:
    """Stop the server; what it wrote on stderr."""
    process.terminate()
    _out, err = process.communicate(timeout=START_TIMEOUT)
    return err


def status_of(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_welcome_urls_answer_and_its_curl_writes(demo_node: tuple[Path, int, int]) -> None:
    data_dir, _handle_port, http_port = demo_node
    process, lines = welcome(data_dir, {"IDNODE_HTTP_INSECURE_AUTH": "true"})
    try:
        text = "\n".join(lines)
        base = f"http://127.0.0.1:{http_port}"
        for label in ("home page", "a demo product", "its trace", "REST API"):
            assert any(line.strip().startswith(label) for line in lines), (label, text)
        urls = re.findall(rf"{re.escape(base)}/\S*", text)
        for url in urls:
            if "/HELLO-1" not in url:  # written below
                assert status_of(url.rstrip("),;")) == 200, url
        assert f"{base}/api/openapi.json" in urls
        for code in ("HAIYUE", "TAISHAN", "LINGHAI"):
            assert re.search(rf"^  {code} +88\.118\.\d+ ", text, re.MULTILINE), text
        idnode_line = next(line for line in lines if line.startswith("The idnode command is "))
        assert idnode_line.endswith(f"{Path(sys.executable).parent / 'idnode'}; "
                                    "to type just 'idnode':")
        secret = next(line.strip() for line in lines if line.strip().startswith("SECRET=$("))
        curl = next(line.strip() for line in lines if line.strip().startswith("curl "))
        wrote = subprocess.run(["bash", "-c", f"set -e\n{secret}\n{curl} -s -o /dev/null "
                                "-w '%{http_code}'"], cwd=REPO, capture_output=True,
                               text=True, timeout=120, check=False)
        assert wrote.returncode == 0 and wrote.stdout == "201", wrote
        assert status_of(f"{base}/api/handles/88.118.8/HELLO-1") == 200
    finally:
        assert stop(process) == ""  # no warnings on a clean start and stop


def test_without_insecure_auth_it_says_what_to_set(demo_node: tuple[Path, int, int]) -> None:
    data_dir, _handle_port, _http_port = demo_node
    process, lines = welcome(data_dir, {})
    try:
        assert not any(line.strip().startswith("curl ") for line in lines)
        assert any("accepted only over HTTPS" in line and "IDNODE_HTTP_INSECURE_AUTH=true"
                   in line for line in lines)
    finally:
        assert stop(process) == ""
