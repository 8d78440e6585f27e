"""A root -> node trust chain for the console's certificate tests.

:func:`issuer_config` writes the node's issuer key encrypted (as ``idnode keys
gen`` does) with its passphrase in a file, and returns the configuration that
names them; :func:`certify_node` has a root key (the trust anchor) certify that
key on the node's prefix handle, so a certificate the node issues verifies up to
the anchor; :func:`cert_request` is what ``idnode cert request`` writes.
"""

from __future__ import annotations

import time
from pathlib import Path

from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.store import HandleStore
from registry.trust import PrivateKey, generate_key, issue_cert, private_key_to_pem
from registry.trust.claims import HandleClaims, prefix_permissions
from registry.trust.jws import sign
from registry.trust.verify import Fetch

NODE_HANDLE = "0.NA/88.118"
ISSUER = f"300:{NODE_HANDLE}"
PASSPHRASE = "issuer passphrase 签发"
DAY = 86_400


def issuer_config(data_dir: Path, key: PrivateKey, **more: object) -> NodeConfig:
    """A node configuration naming ``key`` (written encrypted under ``data_dir``) as the
    certificate issuer, its passphrase in a file."""
    (data_dir / "keys").mkdir(parents=True, exist_ok=True)
    (data_dir / "keys" / "issuer.pem").write_bytes(private_key_to_pem(key, PASSPHRASE))
    (data_dir / "issuer.pass").write_text(PASSPHRASE + "\n", encoding="utf-8")
    settings: dict[str, object] = {
        "data_dir": data_dir, "cert_issuer_key_path": Path("keys/issuer.pem"),
        "cert_issuer": ISSUER, "cert_issuer_passphrase_file": Path("issuer.pass"),
        "cert_issuer_days": 90, **more}
    return NodeConfig(**settings)  # type: ignore[arg-type]


async def certify_node(store: HandleStore, root: PrivateKey, node: PrivateKey) -> None:
    """The root's certificate for the node's key on the node's prefix handle."""
    now = int(time.time())
    cert = issue_cert("0.NA/ROOT", 300, root, NODE_HANDLE, 300, node.public_key(), now - 60,
                      now + 400 * DAY, prefix_permissions(NODE_HANDLE, derived_prefixes=True),
                      issued=now, index=400)
    await store.upsert_values(NODE_HANDLE, [cert], actor="test")


def cert_request(subject: str, key: PrivateKey | None = None) -> str:
    """A certificate request for ``300:<subject>`` signed by ``key`` (default: a new one)."""
    key = key or generate_key("ed25519")
    now = int(time.time())
    claims = HandleClaims(iss=f"300:{subject}", sub=f"300:{subject}", iat=now, nbf=now,
                          exp=now + 600, public_key=key.public_key())
    return sign(claims.to_json(), key).compact()


def fetch_from(store: HandleStore) -> Fetch:
    """The registry as the chain walk's source of handles."""
    async def fetch(handle: str) -> list[HandleValue] | None:
        record = await store.get_handle(handle)
        return None if record is None else list(record.values)
    return fetch
