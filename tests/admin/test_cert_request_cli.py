"""``idnode cert request`` / ``cert issue --request``: a certificate request is approved only
when it is signed by the key it names and still valid; ``cert fetch`` and ``resolve
--trust-anchor`` name what they miss."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from admin.commands.cert_request import read_request
from admin.context import CliError
from registry.trust import PrivateKey, generate_key, private_key_to_pem
from registry.trust.claims import HandleClaims
from registry.trust.jws import sign
from tests.admin.test_cert import ACME, NODE, Cli


def acme_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A node with enterprise ACME on 88.118.8 and the keys keys/node.pem, keys/acme.pem."""
    cli = Cli(tmp_path / "node", capsys)
    cli("init")
    cli("enterprise", "add", "ACME", "--name", "Acme", "--industry", "appliance",
        "--prefix", "88.118.8")
    cli("keys", "gen", "--type", "sm2", "--out", "keys/node.pem", "--unencrypted")
    cli("keys", "gen", "--type", "sm2", "--out", "keys/acme.pem", "--unencrypted")
    return cli


def test_request_then_approval_certifies_the_requesting_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = acme_node(tmp_path, capsys)
    request = tmp_path / "acme.certreq"
    asked = cli("cert", "request", "--key", "keys/acme.pem", "--subject", f"300:{ACME}",
                "--out", str(request))
    assert asked["subject"] == f"300:{ACME}"
    issued = cli("cert", "issue", "--issuer-key", "keys/node.pem", "--issuer", f"300:{NODE}",
                 "--request", str(request), "--days", "30")
    assert (issued["handle"], issued["subject"], issued["key"]) == (
        ACME, f"300:{ACME}", asked["key"])
    [shown] = cli("cert", "show", ACME)
    assert (shown["type"], shown["issuer"], shown["key"]) == (
        "HS_CERT", f"300:{NODE}", asked["key"])
    both = cli("cert", "issue", "--issuer-key", "keys/node.pem", "--issuer", f"300:{NODE}",
               "--request", str(request), "--subject", f"300:{ACME}", "--days", "30", expect=2)
    assert "--request names the subject and its key" in both


def _request(tmp_path: Path, claims: HandleClaims, signer: PrivateKey | None = None) -> Path:
    """A request file with ``claims``, signed by ``signer`` (default: a fresh key)."""
    path = tmp_path / "req"
    path.write_text(sign(claims.to_json(), signer or generate_key("ed25519")).compact())
    return path


def test_a_request_is_checked(tmp_path: Path) -> None:
    now = int(time.time())
    key = generate_key("ed25519")
    good = HandleClaims(iss=f"300:{ACME}", sub=f"300:{ACME}", iat=now, nbf=now, exp=now + 60,
                        public_key=key.public_key())
    path = tmp_path / "good"
    path.write_text(sign(good.to_json(), key).compact())
    subject, public = read_request(path)
    assert (str(subject), public) == (f"300:{ACME}", key.public_key())
    with pytest.raises(CliError, match="the request is expired"):
        read_request(path, now=now + 3600)
    with pytest.raises(CliError, match="not signed by the key it asks to certify"):
        read_request(_request(tmp_path, good))  # signed by another key
    other = HandleClaims(iss=f"300:{NODE}", sub=f"300:{ACME}", public_key=key.public_key())
    with pytest.raises(CliError, match="iss != sub"):
        read_request(_request(tmp_path, other, key))
    (tmp_path / "junk").write_bytes(private_key_to_pem(key, None))
    with pytest.raises(CliError, match="not a certificate request"):
        read_request(tmp_path / "junk")


def test_fetch_and_client_side_verify_name_what_they_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path / "node", capsys)
    cli("init")
    assert "no root address: set root_address or pass --from HOST:PORT" in cli(
        "cert", "fetch", expect=2)
    (tmp_path / "bad.pub").write_text("not a key")
    refused = cli("resolve", "88.118.8/X", "--verify", "--server", "127.0.0.1:9",
                  "--trust-anchor", str(tmp_path / "bad.pub"), expect=2)
    assert f"--trust-anchor {tmp_path / 'bad.pub'}" in refused
    assert "--trust-anchor is for --verify" in cli(
        "resolve", "88.118.8/X", "--trust-anchor", "x", expect=2)
