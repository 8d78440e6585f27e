"""Elliptic-curve HS_PUBKEY values read as keys in the node's own output, not as 'undecodable'."""

from __future__ import annotations

from tests.admin.conftest import Node


def test_ed25519_p256_and_sm2_public_keys_are_described(node: Node) -> None:
    for index, kind in ((310, "ed25519"), (311, "p256"), (312, "sm2")):
        made = node.json("keys", "gen", "--type", kind, "--unencrypted",
                         "--out", f"keys/{kind}.pem")
        node.run("keys", "publish", "0.NA/88.118.8", "--index", str(index),
                 "--key", made["public_key"])
    shown = node.run("handle", "get", "0.NA/88.118.8").stdout
    assert "Ed25519 public key, thumbprint " in shown and "P-256 public key, thumbprint " in shown
    assert "SM2 public key, thumbprint " in shown
    assert "undecodable" not in shown
