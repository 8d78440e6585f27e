"""``idnode keys gen|show``: encrypted keys, passphrases never shown, one-line errors.

Key generation with a passphrase and a wrong passphrase run as real
subprocesses; the other cases call :func:`admin.cli.main` in-process.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from admin.cli import main

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"


def idnode(data_dir: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``idnode --data-dir DATA_DIR ARGS...`` as a subprocess, with extra environment ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    """``idnode`` in this process: exit code, stdout, stderr."""
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Any:
    code, out, err = run(capsys, data_dir, "--json", *args)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A P-256 key made by ``idnode keys gen`` with a passphrase from the environment."""
    folder = tmp_path_factory.mktemp("keys")
    key = folder / "acme.pem"
    made = idnode(folder, "--json", "keys", "gen", "--type", "p256", "--out", str(key),
                  "--passphrase-env", "ACME_PASS", env={"ACME_PASS": PASSPHRASE})
    assert made.returncode == 0, made.stderr
    assert PASSPHRASE not in made.stdout + made.stderr
    return key, json.loads(made.stdout)


def test_gen_writes_an_encrypted_private_key_and_a_public_key(
    encrypted: tuple[Path, dict[str, Any]],
) -> None:
    key, result = encrypted
    assert result["encrypted"] is True and result["type"] == "p256"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert Path(result["public_key"]).read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_wrong_passphrase_is_one_clear_line(
    encrypted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    key, _ = encrypted
    wrong = idnode(tmp_path, "keys", "show", str(key), "--passphrase-env", "ACME_PASS",
                   env={"ACME_PASS": "not it"})
    assert (wrong.returncode, wrong.stdout) == (2, "")
    assert wrong.stderr == f"idnode: {key}: wrong passphrase for the private key\n"


def test_show_with_passphrase_file_missing_passphrase_and_public_key(
    encrypted: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, made = encrypted
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text(PASSPHRASE + "\n")
    shown = run_json(capsys, tmp_path, "keys", "show", str(key), "--passphrase-file",
                     str(pass_file))
    assert shown["thumbprint"] == made["thumbprint"] and shown["encrypted"] is True
    assert PASSPHRASE not in json.dumps(shown)
    public = run_json(capsys, tmp_path, "keys", "show", made["public_key"])
    assert public["private"] is False and public["thumbprint"] == made["thumbprint"]
    assert run(capsys, tmp_path, "keys", "show", str(key)) == (
        2, "", f"idnode: {key}: the private key is encrypted: give --passphrase-env VAR or "
        "--passphrase-file F (or run on a terminal to be asked)\n")
    code, _, err = run(capsys, tmp_path, "keys", "show", str(key), "--passphrase-env",
                       "NO_SUCH_VARIABLE_X")
    assert code == 2 and "NO_SUCH_VARIABLE_X is not set" in err
    code, _, err = run(capsys, tmp_path, "keys", "gen", "--out", str(key), "--unencrypted")
    assert code == 1 and "exists" in err


def test_keys_are_encrypted_unless_asked_and_live_in_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path, "keys", "gen")   # no terminal, no passphrase
    assert code == 2 and "--unencrypted" in err and not (tmp_path / "keys").exists()
    made = run_json(capsys, tmp_path, "keys", "gen", "--unencrypted")
    assert made["private_key"] == str(tmp_path / "keys" / "signing_key.pem")
    assert made["encrypted"] is False and made["type"] == "ed25519"
    relative = run_json(capsys, tmp_path, "keys", "gen", "--unencrypted", "--out", "keys/e.pem")
    assert relative["private_key"] == str(tmp_path / "keys" / "e.pem")   # not the cwd
    code, shown, _ = run(capsys, tmp_path, "keys", "show", str(tmp_path / "keys" / "e.pem"))
    assert code == 0 and json.loads(shown)["thumbprint"] == relative["thumbprint"]
    assert made["jwk"]["crv"] == "Ed25519"


def test_sm2_keys_gen_show_and_publish_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text(PASSPHRASE + "\n")
    made = run_json(capsys, tmp_path, "keys", "gen", "--type", "sm2", "--out", "keys/sm2.pem",
                    "--passphrase-file", str(pass_file))
    assert made["type"] == "sm2" and made["encrypted"] is True
    assert made["jwk"]["kty"] == "EC" and made["jwk"]["crv"] == "SM2"
    private = Path(made["private_key"])
    assert private.read_bytes().startswith(b"-----BEGIN IDNODE SM2 ENCRYPTED PRIVATE KEY-----")
    shown = run_json(capsys, tmp_path, "keys", "show", str(private), "--passphrase-file",
                     str(pass_file))
    assert shown["thumbprint"] == made["thumbprint"] and shown["encrypted"] is True
    public = run_json(capsys, tmp_path, "keys", "show", made["public_key"])
    assert public["type"] == "sm2" and public["thumbprint"] == made["thumbprint"]


def _on_a_terminal(data_dir: Path, answer: str, *args: str) -> str:
    """``idnode --data-dir DATA_DIR ARGS...`` on a pseudo-terminal; ``answer`` typed at the
    first prompt; everything the terminal showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: exec at once
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "admin.cli", "--data-dir",  # noqa: S606
                                  str(data_dir), *args])
    shown = b""
    answered = False
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the child has exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if not answered and b"passphrase for" in shown:
            os.write(terminal, answer.encode() + b"\n")
            answered = True
    os.waitpid(pid, 0)
    os.close(terminal)
    return shown.decode(errors="replace")


def test_an_encrypted_key_asks_for_its_passphrase_on_a_terminal(
    encrypted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Every command reading an encrypted key without a passphrase option asks once on a
    terminal (issue 23: passphrase from the environment, a file or a prompt)."""
    key, made = encrypted
    shown = _on_a_terminal(tmp_path, PASSPHRASE, "--json", "keys", "show", str(key))
    assert f"passphrase for {key}: " in shown and made["thumbprint"] in shown, shown
    assert PASSPHRASE not in shown  # not echoed
    wrong = _on_a_terminal(tmp_path, "not it", "keys", "show", str(key))
    assert f"idnode: {key}: wrong passphrase for the private key" in wrong, wrong
