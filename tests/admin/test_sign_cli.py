"""``idnode sign``: an enterprise signs its records with its own (encrypted) key, in bulk,
again before expiry; what it signs verifies up the chain, what it cannot sign is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from admin.cli import main
from registry.signing_policy import read_public_key
from registry.trust.keys import jwk_thumbprint
from tests.admin.test_cert import ACME, NODE, Cli

TV1, TV2 = "88.118.8/TV-1", "88.118.8/TV-2"


@pytest.fixture
def acme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Cli, list[str]]:
    """A node with the chain root -> node -> ACME issued, two ACME records, and the
    ``--key`` options of ACME's encrypted key."""
    cli = Cli(tmp_path / "node", capsys)
    secret = tmp_path / "acme.pass"
    secret.write_text("correct horse\n")
    for name in ("root", "node"):
        cli("keys", "gen", "--out", str(tmp_path / f"{name}.pem"), "--unencrypted")
    cli("keys", "gen", "--out", str(tmp_path / "acme.pem"), "--passphrase-file", str(secret))
    cli("init", "--trust-anchor", str(tmp_path / "root.pem.pub"))
    cli("enterprise", "add", "ACME", "--name", "Acme", "--industry", "appliance",
        "--prefix", "88.118.8")
    cli("cert", "issue", "--issuer-key", str(tmp_path / "root.pem"), "--issuer", "300:0.NA/88",
        "--subject", f"300:{NODE}", "--subject-key", str(tmp_path / "node.pem.pub"),
        "--days", "365")
    cli("cert", "issue", "--issuer-key", str(tmp_path / "node.pem"), "--issuer", f"300:{NODE}",
        "--subject", f"300:{ACME}", "--subject-key", str(tmp_path / "acme.pem.pub"),
        "--days", "180")
    for handle in (TV1, TV2):
        cli("handle", "create", handle, "--value", f"1:URL:https://example.org/{handle}")
    return cli, ["--key", str(tmp_path / "acme.pem"), "--passphrase-file", str(secret)]


def test_sign_one_record_with_the_enterprise_key(acme: tuple[Cli, list[str]]) -> None:
    cli, key = acme
    result = cli("sign", TV1, *key)
    [row] = result["signed"]
    assert (row["handle"], row["index"], row["signer"]) == (TV1, 400, f"300:{ACME}")
    assert row["chain"] == [ACME, NODE]  # Handle 9 chain claim: where the certificates are
    verified = cli("resolve", TV1, "--verify")["verification"]
    assert verified["status"] == "valid", verified
    assert verified["signer"] == f"300:{ACME}"
    unsigned = cli("resolve", TV2, "--verify")["verification"]
    assert unsigned["status"] == "unsigned"


def test_bulk_signing_and_renewal_before_expiry(acme: tuple[Cli, list[str]],
                                                tmp_path: Path) -> None:
    cli, key = acme
    first = cli("sign", "--prefix", "88.118.8", "--days", "10", *key)
    assert sorted(r["handle"] for r in first["signed"]) == [TV1, TV2]
    not_due = cli("sign", "--prefix", "88.118.8", "--expiring-within", "5d", *key)
    assert (not_due["signed"], not_due["not_due"]) == ([], 2)
    renewed = cli("sign", "--prefix", "88.118.8", "--expiring-within", "30d", *key)
    assert sorted(r["handle"] for r in renewed["signed"]) == [TV1, TV2]
    assert all(r["index"] == 400 for r in renewed["signed"])  # replaced, not added
    assert all(r["expires"] > f["expires"] for r, f in zip(
        sorted(renewed["signed"], key=lambda r: r["handle"]),
        sorted(first["signed"], key=lambda r: r["handle"]), strict=True))
    listed = tmp_path / "handles.txt"
    listed.write_text(f"# renewed by hand\n{TV2}\n")
    again = cli("sign", "--from", str(listed), *key)
    assert [r["handle"] for r in again["signed"]] == [TV2]
    for handle in (TV1, TV2):
        shown = cli("cert", "show", handle)
        assert [(r["type"], r["index"]) for r in shown] == [("HS_SIGNATURE", 400)]
        assert cli("resolve", handle, "--verify")["verification"]["status"] == "valid"


def test_what_cannot_be_signed_is_named(acme: tuple[Cli, list[str]], tmp_path: Path) -> None:
    cli, key = acme
    cli("keys", "gen", "--out", str(tmp_path / "other.pem"), "--unencrypted")
    refused = cli("sign", TV1, "--key", str(tmp_path / "other.pem"), expect=1)
    assert refused["failed"] == [f"{TV1}: cannot sign for 88.118.8: no HS_CERT or HS_PUBKEY "
                                 f"on {ACME} holds its key"]
    missing = cli("sign", "88.118.8/NOPE", TV2, *key, expect=1)
    assert missing["failed"] == ["88.118.8/NOPE: not found"]
    assert [r["handle"] for r in missing["signed"]] == [TV2]
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("wrong\n")
    bad_pass = cli("sign", TV1, "--key", key[1], "--passphrase-file", str(wrong), expect=2)
    assert "acme.pem" in bad_pass
    assert cli("sign", "--key", key[1], expect=2) == (
        "idnode: name what to sign: HANDLE..., --prefix P or --from FILE\n")
    assert "not a duration" in cli("sign", TV1, *key, "--expiring-within", "soon", expect=2)


def test_json_output_is_one_document(acme: tuple[Cli, list[str]]) -> None:
    cli, key = acme
    result = cli("sign", TV1, TV2, *key)
    assert json.loads(json.dumps(result))["written"] == "local"
    assert result["failed"] == []


def test_import_signs_each_record_with_the_sign_key(acme: tuple[Cli, list[str]],
                                                    tmp_path: Path) -> None:
    cli, key = acme
    rows = tmp_path / "products.csv"
    rows.write_text("handle,index,type,data\n"
                    "88.118.8/IMP-1,1,URL,https://example.org/imp-1\n"
                    "88.118.8/IMP-2,1,URL,https://example.org/imp-2\n")
    summary = cli("import", str(rows), "--quiet", "--sign-key", *key[1:])
    assert summary["inserted"] == 2
    for handle in ("88.118.8/IMP-1", "88.118.8/IMP-2"):
        verified = cli("resolve", handle, "--verify")["verification"]
        assert (verified["status"], verified["signer"]) == ("valid", f"300:{ACME}")
    cli("keys", "gen", "--out", str(tmp_path / "stranger.pem"), "--unencrypted")
    refused = cli("import", str(rows), "--sign-key", str(tmp_path / "stranger.pem"), expect=2)
    assert "no prefix of this node certifies or publishes this key" in refused


def test_a_revoked_key_is_warned_about_once_naming_its_thumbprint(
        acme: tuple[Cli, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli, key = acme
    clean = cli("sign", TV1, *key)
    assert clean["warnings"] == []
    cli("cert", "revoke", "--issuer-key", str(tmp_path / "node.pem"), "--issuer", f"300:{NODE}",
        "--subject", f"300:{ACME}")
    thumbprint = jwk_thumbprint(read_public_key((tmp_path / "acme.pem.pub").read_bytes()))
    code = main(["--data-dir", str(cli.data_dir), "sign", "--prefix", "88.118.8", *key])
    out, err = capsys.readouterr()
    assert code == 0, err
    [warning] = [line for line in err.splitlines() if "warning" in line]
    assert warning.startswith(f"idnode: warning: signing key {thumbprint} (300:{ACME}) is "
                              "revoked: ")
    assert f"300:{NODE} revoked the key of 300:{ACME}" in warning
    assert "signed 2" in out


def test_a_key_not_certified_up_to_the_anchor_is_warned_about(
        acme: tuple[Cli, list[str]], tmp_path: Path) -> None:
    cli, key = acme
    cli("keys", "gen", "--out", str(tmp_path / "stranger.pem"), "--unencrypted")
    (cli.data_dir / "keys" / "trust_anchor.pub").write_bytes(
        (tmp_path / "stranger.pem.pub").read_bytes())
    result = cli("sign", TV1, *key)
    assert [r["handle"] for r in result["signed"]] == [TV1]
    [warning] = result["warnings"]
    assert f"(300:{ACME}) is untrusted: " in warning
