"""Trusted identifiers across three ``idnode serve`` processes: root -> node -> enterprise node.

* root (prefix 88, ``--role root``) publishes its signing key (HS_PUBKEY on 0.NA/88)
  and certifies the node when it approves the node's certificate request;
* node (88.118) fetches that certificate from the root over the Handle protocol
  (``cert fetch --anchor-thumbprint``: the root key comes from the root too, checked
  against the thumbprint), and approves the enterprise's request;
* enterprise node (88.118.9, delegated by the node) fetches its certificate the same
  way and signs its record with its own encrypted key (``idnode sign``).

A client at the root's side verifies the record over the Handle protocol
(``idnode resolve --verify --server ROOT``: client-side, chain fetched over the
protocol) and over the root's REST API (the root had cached the enterprise's prefix
handle before its certificate was issued: ``cert fetch`` asks with the authoritative flag,
so the root fetches it afresh); after the node revokes the enterprise's key
at the root, both say revoked, naming the revoked certificate.  Everything runs with
P-256 keys and again with SM2/SM3 keys.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
import pytest

from tests.resolver.test_e2e import (
    Proc,
    free_port,
    init_all,
    serve_all,
    stop,
    write,
)

PUMP = "88.118.9/PUMP-1"
NODE_NA, ENT_NA = "0.NA/88.118", "0.NA/88.118.9"
KEY = "keys/signing.pem"


@contextmanager
def running_world(folder: Path, key_type: str, *,
                  strangers: Mapping[str, str] = MappingProxyType({}),
                  revocation_ttls: Mapping[str, int] = MappingProxyType({}),
                  anchored: Sequence[str] = (),
                  ) -> Iterator[dict[str, Any]]:
    """Three initialised, running nodes with a signing key each (the enterprise's
    encrypted) and the root's key as the root's own trust anchor; ``strangers``
    (name -> prefix) are more nodes, recursing from the root, anchored at the root's
    key; ``revocation_ttls`` (name -> seconds) sets that setting of those nodes;
    ``anchored`` nodes get the root's key as trust anchor before they start too."""
    procs = {
        name: Proc(name, folder / name, prefix, "root" if name == "root" else "node",
                   free_port(), free_port())
        for name, prefix in (("root", "88"), ("node", "88.118"), ("enterprise", "88.118.9"),
                             *strangers.items())
    }
    root, node, enterprise = procs["root"], procs["node"], procs["enterprise"]
    init_all(list(procs.values()))
    for name, seconds in revocation_ttls.items():
        settings = procs[name].folder / "idnode.toml"
        text = settings.read_text()
        assert "\nrevocation_ttl = 300\n" in text, text
        settings.write_text(text.replace("\nrevocation_ttl = 300\n",
                                         f"\nrevocation_ttl = {seconds}\n"))
    secret = folder / "enterprise.pass"
    secret.write_text("enterprise passphrase\n")
    for proc in (root, node, enterprise):
        protection = (["--passphrase-file", str(secret)] if proc is enterprise
                      else ["--unencrypted"])
        proc.run("keys", "gen", "--type", key_type, "--out", KEY, *protection)
    # the root trusts its own key (the default anchor location; no trust_anchor_path)
    for proc in (root, *(procs[name] for name in (*strangers, *anchored))):
        shutil.copy(root.folder / f"{KEY}.pub", proc.folder / "keys/trust_anchor.pub")
    asyncio.run(write(node, ("delegate", ("88.118.9", enterprise))))
    try:
        serve_all(root, *(p for p in procs.values() if p is not root))
        yield {**procs, "secret": secret, "folder": folder, "type": key_type}
    finally:
        stop(list(procs.values()))


def issue_and_sign(world: dict[str, Any]) -> dict[str, Any]:
    """The certificates issued on requests and fetched, the record signed."""
    root, node, enterprise = world["root"], world["node"], world["enterprise"]
    folder: Path = world["folder"]
    ent_key = ["--key", KEY, "--passphrase-file", str(world["secret"])]
    node.run("root", "register", "--root-address", root.endpoint,
             "--admin", "300:0.NA/88", "--key", str(root.folder / "keys/admin_key.pem"))
    published = root.run("keys", "publish", "0.NA/88", "--index", "301",
                         "--key", f"{KEY}.pub")
    anchor = published["thumbprint"]

    node.run("cert", "request", "--key", KEY, "--subject", f"300:{NODE_NA}",
             "--out", str(folder / "node.certreq"))
    node_cert = root.run("cert", "issue", "--issuer-key", str(root.folder / KEY),
                         "--issuer", "300:0.NA/88", "--request", str(folder / "node.certreq"),
                         "--days", "365")
    assert (node_cert["handle"], node_cert["subject"]) == (NODE_NA, f"300:{NODE_NA}")
    fetched = node.run("cert", "fetch", "--from", root.endpoint, "--anchor-thumbprint", anchor)
    assert [c["status"] for c in fetched["certificates"]] == ["valid"], fetched
    assert fetched["stored"] == 1 and fetched["trust_anchor"] == anchor

    # as a user checking the delegation does: the root now holds a copy of the enterprise's
    # prefix handle without a certificate, cached for its TTL (a day); cert fetch must get
    # the record afresh (an authoritative request), not that copy
    looked = root.run("resolve", ENT_NA, "--server", root.endpoint, "--recursive")
    assert "HS_CERT" not in {value["type"] for value in looked["values"]}, looked
    enterprise.run("cert", "request", *ent_key, "--subject", f"300:{ENT_NA}",
                   "--out", str(folder / "enterprise.certreq"))
    ent_cert = node.run("cert", "issue", "--issuer-key", str(node.folder / KEY),
                        "--issuer", f"300:{NODE_NA}",
                        "--request", str(folder / "enterprise.certreq"), "--days", "180")
    assert ent_cert["handle"] == ENT_NA
    fetched = enterprise.run("cert", "fetch", "--from", root.endpoint,
                             "--anchor-thumbprint", anchor)
    assert fetched["stored"] == 1, fetched

    enterprise.run("handle", "create", PUMP, "--value", "1:URL:https://example.org/pump-1",
                   "--value", "2:EMAIL:service@example.org")
    signed = enterprise.run("sign", PUMP, *ent_key)
    [row] = signed["signed"]
    assert row["signer"] == f"300:{ENT_NA}" and row["chain"][0] == ENT_NA
    return {"anchor": anchor, "enterprise_cert": ent_cert}


def revoke_enterprise_key(world: dict[str, Any]) -> None:
    """The node revokes the enterprise's key: an HS_REVOCATION on 0.NA/88.118 at the root.
    It names the subject, not a copy of the enterprise's key: the root does not hold
    0.NA/88.118.9, so the certificate naming the key is read in the node's own registry."""
    node, root = world["node"], world["root"]
    done = node.run("cert", "revoke", "--issuer-key", str(node.folder / KEY),
                    "--issuer", f"300:{NODE_NA}", "--subject", f"300:{ENT_NA}",
                    "--server", root.endpoint)
    assert done["written"] == root.endpoint and len(done["revoked"]) == 1, done


@pytest.fixture(scope="module", params=["p256", "sm2"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The three nodes, running."""
    with running_world(tmp_path_factory.mktemp(f"trust-{request.param}"),
                       request.param) as started:
        yield started


@pytest.fixture(scope="module")
def chain(world: dict[str, Any]) -> dict[str, Any]:
    """The certificates issued on requests and fetched, the record signed."""
    return issue_and_sign(world)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def rest_verdict(http: aiohttp.ClientSession, proc: Proc) -> dict[str, Any]:
    """``GET /api/handles/PUMP?verify=true`` at ``proc``: the verification member."""
    address = f"http://127.0.0.1:{proc.http_port}/api/handles/{PUMP}?verify=true"
    async with http.get(address) as response:
        body = await response.json()
        assert response.status == 200, body
        verdict: dict[str, Any] = body["verification"]
        return verdict


def handle_protocol_verdict(world: dict[str, Any], via: Proc | None = None, *,
                            fresh: bool = False) -> dict[str, Any]:
    """``idnode resolve --verify --server VIA`` (default: the root) at the root's side:
    checked client-side; ``fresh`` adds ``--fresh``."""
    root = world["root"]
    answer = root.run("resolve", PUMP, "--verify", "--recursive",
                      "--server", (via or root).endpoint, *(["--fresh"] if fresh else []),
                      "--trust-anchor", str(root.folder / f"{KEY}.pub"))
    verdict: dict[str, Any] = answer["verification"]
    return verdict


async def test_signed_by_the_enterprise_verifies_at_the_root_then_revocation_takes_effect(
    world: dict[str, Any], chain: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    root, enterprise = world["root"], world["enterprise"]
    assert enterprise.run("cert", "show", ENT_NA)[0]["issuer"] == f"300:{NODE_NA}"  # fetched
    over_handle = handle_protocol_verdict(world)
    assert over_handle["status"] == "valid", over_handle
    assert over_handle["signer"] == f"300:{ENT_NA}"
    assert [(link["handle"], link["status"]) for link in over_handle["chain"]] == [
        (PUMP, "ok"), (ENT_NA, "ok"), (NODE_NA, "ok")]
    over_rest = await rest_verdict(http, root)
    assert over_rest["status"] == "valid", over_rest
    assert over_rest["chain"] == over_handle["chain"]

    revoke_enterprise_key(world)
    revoked = handle_protocol_verdict(world)
    assert revoked["status"] == "revoked", revoked
    why = f"revoked at 400:{ENT_NA}: 300:{NODE_NA} revoked the key of 300:{ENT_NA}"
    assert why in revoked["reason"]
    thumbprint = enterprise.run("keys", "show", f"{KEY}.pub")["thumbprint"]
    assert f"(key thumbprint {thumbprint}, HS_REVOCATION " in revoked["reason"], revoked
    over_rest = await rest_verdict(http, root)
    assert over_rest["status"] == "revoked" and why in over_rest["reason"], over_rest


def test_a_forged_request_is_not_approved(world: dict[str, Any], chain: dict[str, Any]) -> None:
    """A request signed by another key than it names cannot be approved."""
    folder: Path = world["folder"]
    text = (folder / "enterprise.certreq").read_text()
    head, payload, signature = text.strip().split(".")
    (folder / "forged.certreq").write_text(f"{head}.{payload}.{signature[::-1]}\n")
    refused = world["node"].run("cert", "issue", "--issuer-key", KEY, "--issuer",
                                f"300:{NODE_NA}", "--request", str(folder / "forged.certreq"),
                                "--days", "1", expect=2)
    assert "not signed by the key it asks to certify" in refused["error"] or (
        "not a certificate request" in refused["error"])
