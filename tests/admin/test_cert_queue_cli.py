"""``idnode cert submit|requests|approve|reject``: a queued request is decided once; an
approval writes the HS_CERT and a ``cert.approve`` audit entry together, a rejection keeps
its reason, and the audit chain still verifies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from admin.cli import main
from registry.config import load_config
from registry.records import AuditEntry
from registry.store import HandleStore
from registry.trust import generate_key
from registry.trust.claims import HandleClaims
from registry.trust.jws import sign
from tests.admin.test_cert import ACME, NODE, Cli
from tests.admin.test_cert_request_cli import acme_node


def _audit(data_dir: Path, action: str) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        config = load_config(overrides={"data_dir": data_dir})
        store = await HandleStore.open(config.effective_database_url, migrate=False)
        try:
            return [e for e in await store.audit_entries(limit=1000) if e.action == action]
        finally:
            await store.close()
    return asyncio.run(read())


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return acme_node(tmp_path, capsys)


def test_submit_list_approve_audits_and_issues(cli: Cli, tmp_path: Path) -> None:
    request = tmp_path / "acme.certreq"
    queued = cli("cert", "request", "--key", "keys/acme.pem", "--subject", f"300:{ACME}",
                 "--out", str(request), "--submit")
    assert (queued["state"], queued["subject"], queued["enterprise"]) == (
        "pending", f"300:{ACME}", "ACME")
    [pending] = cli("cert", "requests", "--state", "pending")
    assert pending["id"] == queued["id"]
    assert cli("cert", "show", ACME) == []
    issuer = ("--issuer-key", "keys/node.pem", "--issuer", f"300:{NODE}", "--days", "30")
    approved = cli("cert", "approve", str(queued["id"]), *issuer)
    assert (approved["handle"], approved["key"]) == (ACME, queued["key"])
    [shown] = cli("cert", "show", ACME)
    assert (shown["type"], shown["issuer"], shown["key"]) == (
        "HS_CERT", f"300:{NODE}", queued["key"])
    [entry] = _audit(cli.data_dir, "cert.approve")
    assert entry.handle == ACME
    assert (entry.detail["request"], entry.detail["subject"], entry.detail["key"]) == (
        queued["id"], f"300:{ACME}", queued["key"])
    assert cli("cert", "requests", "--state", "pending") == []
    assert main(["--data-dir", str(cli.data_dir), "cert", "requests"]) == 0
    listed = cli.capsys.readouterr().out  # the table: the certificate in plain words
    assert f"handle={ACME} index={approved['index']} expires=" in listed, listed
    assert "{" not in listed, listed
    again = cli("cert", "approve", str(queued["id"]), *issuer, expect=2)
    assert "already approved" in again
    cli("audit", "verify")


def test_reject_keeps_the_reason(cli: Cli, tmp_path: Path) -> None:
    request = tmp_path / "acme.certreq"
    cli("cert", "request", "--key", "keys/acme.pem", "--subject", f"300:{ACME}",
        "--out", str(request))
    queued = cli("cert", "submit", str(request))
    assert "--reason must say why" in cli("cert", "reject", str(queued["id"]), "--reason", " ",
                                          expect=2)
    rejected = cli("cert", "reject", str(queued["id"]), "--reason", "主体不符 / wrong subject")
    assert (rejected["state"], rejected["reason"]) == ("rejected", "主体不符 / wrong subject")
    [entry] = _audit(cli.data_dir, "cert.reject")
    assert (entry.detail["request"], entry.detail["reason"]) == (
        queued["id"], "主体不符 / wrong subject")
    assert cli("cert", "show", ACME) == []
    cli("audit", "verify")


def test_tampered_or_expired_requests_are_not_queued(cli: Cli, tmp_path: Path) -> None:
    now = int(time.time())
    key = generate_key("ed25519")
    claims = HandleClaims(iss=f"300:{ACME}", sub=f"300:{ACME}", iat=now - 100, nbf=now - 100,
                          exp=now - 10, public_key=key.public_key())
    expired = tmp_path / "expired"
    expired.write_text(sign(claims.to_json(), key).compact())
    assert "expired" in cli("cert", "submit", str(expired), expect=2)
    fresh = HandleClaims(iss=f"300:{ACME}", sub=f"300:{ACME}", iat=now, nbf=now,
                         exp=now + 600, public_key=key.public_key())
    tampered = tmp_path / "tampered"
    tampered.write_text(sign(fresh.to_json(), generate_key("ed25519")).compact())
    assert "not signed by the key" in cli("cert", "submit", str(tampered), expect=2)
    assert cli("cert", "requests") == []


def test_a_failed_approval_leaves_the_request_pending(cli: Cli, tmp_path: Path) -> None:
    nowhere = "0.NA/88.118.77"  # no such handle: the HS_CERT cannot be written
    queued = cli("cert", "request", "--key", "keys/acme.pem", "--subject", f"300:{nowhere}",
                 "--out", str(tmp_path / "req"), "--submit")
    assert queued["enterprise"] is None
    cli("cert", "approve", str(queued["id"]), "--issuer-key", "keys/node.pem", "--issuer",
        f"300:{NODE}", "--days", "30", expect=1)
    [still] = cli("cert", "requests", "--state", "pending")
    assert still["id"] == queued["id"]
    assert _audit(cli.data_dir, "cert.approve") == []
