"""``idnode cert issue|revoke|show``, ``keys publish`` and ``init --trust-anchor``.

The node's registry plays the root's part too: the root's certificate for the
node goes on ``0.NA/88.118`` (issued by a real ``idnode`` subprocess), the
node's certificate for ACME on ``0.NA/88.118.8``.  With the root's public key
installed as trust anchor by ``idnode init`` and ACME signed on behalf by the
node, a record written through the service verifies up the chain, until the
node revokes ACME's key.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from admin.cli import main
from protocol.rest_json import value_to_json, values_from_json
from protocol.values import HandleValue
from registry.config import load_config
from registry.signing_policy import load_trust_anchor
from registry.store import HandleStore
from registry.trust import load_private_key, sign_record
from registry.write_rules import WriteRules
from resolver.core.model import Caller
from resolver.core.service import ResolutionService
from resolver.core.verification import verify
from tests.admin.test_keys import idnode

NODE = "0.NA/88.118"
ACME = "0.NA/88.118.8"
PRODUCT = "88.118.8/TV-0001"


class Cli:
    """``idnode`` in this process against one data dir."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys

    def __call__(self, *args: str, expect: int = 0) -> Any:
        code = main(["--data-dir", str(self.data_dir), "--json", *args])
        out, err = self.capsys.readouterr()
        assert code == expect, err
        return json.loads(out) if out else err


async def _write_and_verify(data_dir: Path) -> tuple[str, str, list[HandleValue]]:
    """Create PRODUCT through a service configured like the node; its verdict and reason."""
    config = load_config(overrides={"data_dir": data_dir})
    store = await HandleStore.open(
        config.effective_database_url, migrate=False, rules=WriteRules.from_config(config)
    )
    try:
        service = ResolutionService(
            store, server_admins=[(NODE, 300)], trust_anchor=load_trust_anchor(config)
        )
        if await store.get_handle(PRODUCT) is None:
            await service.create_handle(
                PRODUCT, [HandleValue(1, "URL", b"https://example.org/tv-0001")],
                caller=Caller(NODE, 300),
            )
        report = await verify(service, PRODUCT)
        record = await store.get_handle(PRODUCT)
        assert report is not None and record is not None
        return str(report.status), report.reason, list(record.values)
    finally:
        await store.close()


def refuse_a_tampered_signature(cli: Cli, folder: Path, acme_key: Path) -> None:
    """``handle create`` with a signature (by the HS_PUBKEY at 301) over other data fails."""
    handle = "88.118.8/BAD"
    signed = [HandleValue(1, "URL", b"https://example.org/good")]
    now = int(time.time())
    signature = sign_record(handle, signed, ACME, 301, load_private_key(acme_key.read_bytes()),
                            now - 60, now + 3600)
    document = folder / "bad.json"
    document.write_text(json.dumps({"values": [
        value_to_json(HandleValue(1, "URL", b"https://example.org/evil")),
        value_to_json(signature)]}))
    error = cli("handle", "create", handle, "--from-json", str(document), expect=1)
    assert error == "idnode: HS_SIGNATURE 400: value 1 does not match its signed digest\n"
    assert cli("handle", "get", handle, expect=1) == f"idnode: handle {handle} not found\n"


def test_chain_issued_with_the_cli_verifies_until_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "node"
    cli = Cli(data_dir, capsys)
    keys = {name: tmp_path / f"{name}.pem" for name in ("root", "node", "acme")}
    for path in keys.values():
        cli("keys", "gen", "--out", str(path), "--unencrypted")
    cli("init", "--trust-anchor", f"{keys['root']}.pub")
    assert 'trust_anchor_path = "keys/trust_anchor.pub"' in (data_dir / "idnode.toml").read_text()
    cli("enterprise", "add", "ACME", "--name", "Acme", "--industry", "appliance",
        "--prefix", "88.118.8")

    issued = idnode(data_dir, "--json", "cert", "issue", "--issuer-key", str(keys["root"]),
                    "--issuer", "300:0.NA/88", "--subject", f"300:{NODE}", "--subject-key",
                    f"{keys['node']}.pub", "--days", "365", "--out", str(tmp_path / "cert.json"))
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["handle"] == NODE
    exported = json.loads((tmp_path / "cert.json").read_text())
    [cert] = values_from_json(exported["values"])
    assert exported["handle"] == NODE and cert.type == "HS_CERT"

    acme_args = ("cert", "issue", "--issuer-key", str(keys["node"]), "--issuer", f"300:{NODE}",
                 "--subject", f"300:{ACME}", "--subject-key", str(keys["acme"]), "--days", "30")
    first = cli(*acme_args)
    assert first["index"] == cli(*acme_args)["index"] == 400  # a new one replaces the old
    shown = cli("cert", "show", ACME)
    assert [(r["type"], r["index"], r["issuer"], r["subject"]) for r in shown] == [
        ("HS_CERT", 400, f"300:{NODE}", f"300:{ACME}")]
    published = cli("keys", "publish", ACME, "--index", "301", "--key", f"{keys['acme']}.pub")
    assert published["thumbprint"] == first["key"]

    (data_dir / "keys" / "enterprises").mkdir(exist_ok=True)
    shutil.copy(keys["acme"], data_dir / "keys" / "enterprises" / "88.118.8.pem")
    monkeypatch.setenv("IDNODE_SIGN_ON_BEHALF", "88.118.8")
    refuse_a_tampered_signature(cli, tmp_path, keys["acme"])
    status, reason, values = asyncio.run(_write_and_verify(data_dir))
    assert status == "valid", reason
    assert [v.type for v in values] == ["URL", "HS_ADMIN", "HS_SIGNATURE"]  # the admin is signed
    signatures = cli("cert", "show", PRODUCT)
    assert [(r["type"], r["issuer"], r["subject"]) for r in signatures] == [
        ("HS_SIGNATURE", f"300:{ACME}", PRODUCT)]

    revoked = cli("cert", "revoke", "--issuer-key", str(keys["node"]), "--issuer", f"300:{NODE}",
                  "--subject", f"300:{ACME}")
    assert (revoked["handle"], revoked["index"]) == (NODE, 410)
    assert revoked["revoked"] == [first["key"]]
    status, reason, _ = asyncio.run(_write_and_verify(data_dir))
    assert status == "revoked" and f"300:{NODE} revoked the key of 300:{ACME}" in reason
    # written here on this node's own prefix handle, which clients resolve at the root
    monkeypatch.setenv("IDNODE_ROOT_ADDRESS", "127.0.0.1:9")
    assert main(["--data-dir", str(data_dir), "cert", "revoke", "--issuer-key",
                 str(keys["node"]), "--issuer", f"300:{NODE}", "--subject", f"300:{ACME}"]) == 0
    said = capsys.readouterr().out
    assert f"HS_REVOCATION 411 on {NODE} (local): 300:{NODE} revoked {first['key']}" in said
    assert ("write the revocation there too (the same command with --server 127.0.0.1:9)"
            in said), said

    refused = cli("cert", "issue", "--issuer-key", str(keys["node"]), "--issuer", "bad",
                  "--subject", f"300:{ACME}", "--subject-key", str(keys["acme"]), "--days", "1",
                  expect=2)
    assert refused == "idnode: --issuer must be INDEX:HANDLE, got 'bad'\n"
