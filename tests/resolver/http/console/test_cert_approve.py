"""Approving certificate requests in the console with the node's issuer key: the certificate
verifies up to the trust anchor, the approval is audited as the console user, a second
decision is refused with 409, the validity is bounded, and without an issuer key (or with one
that cannot be read) the console says so."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from protocol.constants import TYPE_HS_CERT
from protocol.values import HandleValue
from registry.cert_issuance import approve_cert_request
from registry.cert_issuer import load_cert_issuer
from registry.cert_requests import AlreadyDecided
from registry.config import ConfigError, NodeConfig
from registry.names import name_key
from registry.store import HandleStore
from registry.trust import Status, generate_key, private_key_to_pem
from registry.trust.claims import ValueRef
from registry.trust.verify import verify_cert
from resolver.node import start_node
from tests.resolver.http.console.cert_chain import (
    ISSUER,
    NODE_HANDLE,
    cert_request,
    certify_node,
    fetch_from,
    issuer_config,
)
from tests.resolver.http.console.harness import console_node, onboard, seed_staff

ACME = "0.NA/88.118.1"


async def test_approve_issues_a_certificate_that_verifies_to_the_anchor(
    sqlite_url: str, tmp_path: Path
) -> None:
    root, node_key = generate_key("ed25519"), generate_key("ed25519")
    issuer = load_cert_issuer(issuer_config(tmp_path / "node", node_key))
    assert issuer is not None and str(issuer.ref) == ISSUER and issuer.days == 90
    async with console_node(sqlite_url, tmp_path, issuer=issuer) as console:
        await certify_node(console.store, root, node_key)
        admin = await onboard(console)
        await admin.close()
        subject_key = generate_key("ed25519")
        queued = await console.store.submit_cert_request(
            cert_request(ACME, subject_key), actor="300:0.NA/88.118.1", now=int(time.time()))
        reviewer = console.visitor()
        await reviewer.login("reviewer")
        status, text = await reviewer.get("/console/cert-requests")
        assert f'id="approve-{queued.id}"' in text and 'value="90"' in text
        assert "idnode cert approve" not in text and ISSUER in text
        path = f"/console/cert-requests/{queued.id}/approve"
        status, _text, _ = await reviewer.post(path, {"days": "30"}, csrf=False)
        assert status == 403  # no CSRF token
        for days in ("0", "3651", "x", ""):
            status, text, _ = await reviewer.post(path, {"days": days})
            assert status == 400 and 'id="review-error"' in text, days
        assert (await console.store.get_cert_request(queued.id)).state == "pending"  # type: ignore[union-attr]
        status, text, location = await reviewer.post(path, {"days": "30"})
        assert (status, location) == (303, "/console/cert-requests?state=approved"), text
        status, text = await reviewer.get(location)
        assert f"HS_CERT 400 · {ACME}" in text

        record = await console.store.get_handle(ACME)
        assert record is not None
        [cert] = [v for v in record.values if name_key(v.type) == TYPE_HS_CERT]
        verdict, reason, chain = await verify_cert(
            ACME, cert, fetch=fetch_from(console.store), trust_anchor=root.public_key())
        assert verdict is Status.VALID, reason
        assert [link.handle for link in chain] == [ACME, NODE_HANDLE]
        other_root = generate_key("ed25519")
        verdict, _reason, _chain = await verify_cert(
            ACME, cert, fetch=fetch_from(console.store), trust_anchor=other_root.public_key())
        assert verdict is not Status.VALID

        decided = await console.store.get_cert_request(queued.id)
        assert decided is not None and decided.state == "approved"
        assert decided.decided_by == "console:reviewer"
        assert decided.cert_index == cert.index and decided.cert_expires is not None
        days_left = (decided.cert_expires.timestamp() - time.time()) / 86_400
        assert 29 < days_left <= 30
        [entry] = [e for e in await console.store.audit_entries(limit=1000)
                   if e.action == "cert.approve"]
        assert (entry.actor, entry.handle) == ("console:reviewer", ACME)
        assert (entry.detail["request"], entry.detail["issuer"], entry.detail["index"]) == (
            queued.id, ISSUER, cert.index)

        # the second tab, or the other reviewer: refused, no second certificate
        operator = console.visitor()
        await operator.login("operator")
        status, text, _ = await operator.post(path, {"days": "30"})
        assert status == 409 and "already approved" in text
        status, text, _ = await operator.post(
            f"/console/cert-requests/{queued.id}/reject", {"reason": "late"})
        assert status == 409 and "already approved" in text
        record = await console.store.get_handle(ACME)
        assert record is not None
        assert len([v for v in record.values if name_key(v.type) == TYPE_HS_CERT]) == 1
        status, _text, _ = await operator.post("/console/cert-requests/999/approve",
                                               {"days": "30"})
        assert status == 404
        await operator.close()
        await reviewer.close()


async def test_without_an_issuer_key_the_console_shows_the_command(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        await onboard(console)
        queued = await console.store.submit_cert_request(
            cert_request(ACME), actor="test", now=int(time.time()))
        reviewer = console.visitor()
        await reviewer.login("reviewer")
        status, text = await reviewer.get("/console/cert-requests")
        assert status == 200 and f"idnode cert approve {queued.id}" in text
        assert f'id="approve-{queued.id}"' not in text
        status, text, _ = await reviewer.post(
            f"/console/cert-requests/{queued.id}/approve", {"days": "30"})
        assert status == 409 and "idnode cert approve" in text
        assert (await console.store.get_cert_request(queued.id)).state == "pending"  # type: ignore[union-attr]
        await reviewer.close()


async def test_two_approvals_at_once_issue_one_certificate(database: HandleStore) -> None:
    store = database
    await seed_staff(store)
    root, node_key = generate_key("ed25519"), generate_key("ed25519")
    await certify_node(store, root, node_key)
    queued = await store.submit_cert_request(cert_request(NODE_HANDLE + ".5"), actor="t",
                                             now=int(time.time()))
    await store.create_handle(NODE_HANDLE + ".5", [HandleValue(1, "DESC", b"ACME")],
                              actor="test")

    async def approve(who: str) -> object:
        try:
            return await approve_cert_request(
                store, queued.id, issuer=ValueRef.parse(ISSUER), issuer_key=node_key, days=10,
                actor=who)
        except AlreadyDecided as exc:
            return exc

    results = await asyncio.gather(approve("console:a"), approve("console:b"))
    assert sorted(type(r).__name__ for r in results) == ["AlreadyDecided", "tuple"]
    record = await store.get_handle(NODE_HANDLE + ".5")
    assert record is not None
    assert len([v for v in record.values if name_key(v.type) == TYPE_HS_CERT]) == 1
    approvals = [e for e in await store.audit_entries(limit=1000) if e.action == "cert.approve"]
    assert len(approvals) == 1


def _config(tmp_path: Path, **settings: object) -> NodeConfig:
    return issuer_config(tmp_path / "node", generate_key("ed25519"), **settings)


def test_an_issuer_key_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    key_file = str(tmp_path / "node" / "keys" / "issuer.pem")
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not it\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(key_file) + ".*wrong passphrase"):
        load_cert_issuer(_config(tmp_path, cert_issuer_passphrase_file=wrong))
    with pytest.raises(ConfigError, match=r"cert_issuer_key_path: cannot read .*missing\.pem"):
        load_cert_issuer(_config(tmp_path, cert_issuer_key_path=Path("keys/missing.pem")))
    with pytest.raises(ConfigError, match="cert_issuer: must be INDEX:HANDLE"):
        load_cert_issuer(_config(tmp_path, cert_issuer="0.NA/88.118"))
    with pytest.raises(ConfigError, match="the variable ISSUER_PASS is not set"):
        load_cert_issuer(_config(tmp_path, cert_issuer_passphrase_file=Path(""),
                                 cert_issuer_passphrase_env="ISSUER_PASS"), environ={})
    config = _config(tmp_path, cert_issuer_passphrase_file=Path(""),
                     cert_issuer_passphrase_env="ISSUER_PASS")
    assert load_cert_issuer(config, environ={"ISSUER_PASS": "issuer passphrase 签发"})
    plain = tmp_path / "plain.pem"
    plain.write_bytes(private_key_to_pem(generate_key("ed25519")))
    with pytest.raises(ConfigError, match=re.escape(str(plain)) + " is not encrypted"):
        load_cert_issuer(_config(tmp_path, cert_issuer_key_path=plain))
    assert load_cert_issuer(NodeConfig(data_dir=tmp_path)) is None
    assert "BEGIN" not in repr(load_cert_issuer(_config(tmp_path)))


async def test_the_node_does_not_start_with_a_wrong_issuer_passphrase(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not it\n", encoding="utf-8")
    config = _config(tmp_path, cert_issuer_passphrase_file=wrong, handle_port=0, http_port=0,
                     dns_port=0)
    key_file = str(config.path(config.cert_issuer_key_path))
    with pytest.raises(ConfigError, match=re.escape(key_file)):
        await start_node(config)
