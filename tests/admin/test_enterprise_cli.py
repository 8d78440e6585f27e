"""Enterprise onboarding, credentials, suspension and quota; prefix delegation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.constants import TYPE_HS_SECKEY
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from tests.admin.conftest import Node


async def _authenticates(node: Node, handle: str, index: int, secret: str) -> bool:
    store = await HandleStore.open(str(node.db), migrate=False)
    try:
        caller = await ResolutionService(store).authenticate_secret_key(
            handle, index, secret.encode()
        )
        return caller.handle == handle
    finally:
        await store.close()


def test_onboarding_credentials_suspend_resume_and_quota(node: Node) -> None:
    added = node.json("enterprise", "add", "TYRES", "--name", "Tyre Works",
                      "--industry", "rubber", "--quota", "2")
    prefix = added["prefix"]
    assert prefix.startswith("88.118.")
    assert added["admin"] == f"300:0.NA/{prefix}"

    issued = node.json("enterprise", "credentials", "TYRES")
    secret = issued["secret_key"]
    assert issued["admin_handle"] == f"0.NA/{prefix}" and issued["admin_index"] == 300
    assert asyncio.run(_authenticates(node, f"0.NA/{prefix}", 300, secret))

    # The secret never shows again: not in get, not in resolve, not in show.
    shown = node.run("handle", "get", f"0.NA/{prefix}").stdout
    assert secret not in shown and "(secret key" in shown
    resolved = node.json("resolve", f"0.NA/{prefix}")
    assert TYPE_HS_SECKEY not in {v["type"] for v in resolved["values"]}
    details = node.json("enterprise", "show", "TYRES")
    assert details["credentials"][0]["kind"] == "seckey"
    assert secret not in str(details)

    node.run("handle", "create", f"{prefix}/T-1", "--value", "1:URL:https://t.example/1")
    node.run("enterprise", "suspend", "TYRES")
    refused = node.run("handle", "set", f"{prefix}/T-1", "--value", "1:URL:https://x",
                       expect=1)
    assert "suspended" in refused.stderr
    refused = node.run("handle", "create", f"{prefix}/T-2", "--value", "1:URL:https://x",
                       expect=1)
    assert "suspended" in refused.stderr
    node.run("enterprise", "resume", "TYRES")
    node.run("handle", "create", f"{prefix}/T-2", "--value", "1:URL:https://t.example/2")
    over = node.run("handle", "create", f"{prefix}/T-3", "--value", "1:URL:https://x",
                    expect=1)
    assert "quota" in over.stderr
    node.run("enterprise", "quota", "TYRES", "unlimited")
    node.run("handle", "create", f"{prefix}/T-3", "--value", "1:URL:https://t.example/3")
    listed = {e["code"]: e for e in node.json("enterprise", "list")}
    assert listed["TYRES"]["handles"] == 3


def test_public_key_credential(node: Node, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "acme_admin_pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    registered = node.json("enterprise", "credentials", "ACME", "--public-key", str(pem))
    assert registered["kind"] == "pubkey" and "secret_key" not in registered
    record = node.json("prefix", "show", "88.118.8")
    value = next(v for v in record["values"] if v["index"] == 300)
    assert value["type"] == "HS_PUBKEY"
    assert value["data"]["value"]["n"]  # an RSA key, in the REST JSON key form


def test_delegate_list_show_remove_prefix(node: Node) -> None:
    node.run("prefix", "delegate", "88.118.9", "--server", "127.0.0.1:2642",
             "--server", "127.0.0.1:2643", "--enterprise", "ACME")
    shown = node.json("prefix", "show", "88.118.9")
    assert shown["kind"] == "delegated"
    site = next(v for v in shown["values"] if v["type"] == "HS_SITE")
    servers = site["data"]["value"]["servers"]
    assert len(servers) == 2
    assert "127.0.0.1" in str(servers[0])
    assert any(v["type"] == "HS_ADMIN" for v in shown["values"])
    delegated = node.json("prefix", "list", "--kind", "delegated")
    assert [p["prefix"] for p in delegated] == ["88.118.9"]
    node.run("prefix", "remove", "88.118.9")
    node.run("handle", "get", "0.NA/88.118.9", expect=1)
    node.run("prefix", "remove", "88.118", expect=1)
