"""SigningPolicy on its own (signing on behalf, refusals, key files), and through an import."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from registry.config import ConfigError, NodeConfig
from registry.importer import import_file
from registry.names import name_key
from registry.signing_policy import (
    SignatureRejected,
    SigningPolicy,
    SigningUnavailable,
    enterprise_key_path,
    load_signers,
    load_trust_anchor,
    read_public_key,
)
from registry.store import HandleStore
from registry.trust import (
    PrivateKey,
    generate_key,
    private_key_to_pem,
    public_key_to_hs_pubkey,
    sign_record,
)
from registry.trust.errors import TrustError
from registry.trust.keys import same_key
from registry.write_rules import WriteRules

ACME = "0.NA/88.118.8"
PRODUCT = "88.118.8/TV-0001"


def url(index: int, text: str) -> HandleValue:
    return HandleValue(index, "URL", text.encode())


class Records:
    """A dict of records standing in for the registry."""

    def __init__(self) -> None:
        self.records: dict[str, list[HandleValue]] = {}

    async def fetch(self, handle: str) -> list[HandleValue] | None:
        return self.records.get(name_key(handle))


@pytest.fixture(scope="module", params=["ed25519", "sm2"])
def acme_key(request: pytest.FixtureRequest) -> PrivateKey:
    """ACME's signing key: Ed25519, then SM2 (SM2 signatures with SM3 digests)."""
    return generate_key(request.param)


@pytest.fixture
def records(acme_key: PrivateKey) -> Records:
    """ACME's key published as HS_PUBKEY 300 of its prefix handle (no certificate)."""
    found = Records()
    found.records[name_key(ACME)] = [
        HandleValue(300, "HS_PUBKEY", public_key_to_hs_pubkey(acme_key.public_key()))
    ]
    return found


async def test_signs_on_behalf_and_replaces_only_its_own_signature(
    records: Records, acme_key: PrivateKey
) -> None:
    other = generate_key("ed25519")
    records.records[name_key(ACME)].append(
        HandleValue(301, "HS_PUBKEY", public_key_to_hs_pubkey(other.public_key())))
    policy = SigningPolicy(records.fetch, signers={name_key("88.118.8"): acme_key})
    first = await policy.prepare(PRODUCT, [url(1, "a")])
    assert first is not None and [v.type for v in first] == ["URL", "HS_SIGNATURE"]
    changed = [url(1, "b"), *(v for v in first if v.index != 1)]
    now = int(time.time())
    theirs = sign_record(PRODUCT, [url(1, "b")], ACME, 301, other, now, now + 60, index=401)
    again = await policy.prepare(PRODUCT, [*changed, theirs])
    assert again is not None
    assert [(v.index, v.type) for v in again] == [(1, "URL"), (400, "HS_SIGNATURE"),
                                                  (401, "HS_SIGNATURE")]
    assert next(v for v in again if v.index == 401) == theirs
    assert next(v for v in again if v.index == 400) != first[1]  # signed afresh


async def test_prefix_handles_and_other_prefixes_are_not_signed(
    records: Records, acme_key: PrivateKey
) -> None:
    policy = SigningPolicy(records.fetch, signers={name_key("88.118.8"): acme_key})
    assert await policy.prepare(ACME, [url(1, "a")]) is None
    assert await policy.prepare("88.118.9/X", [url(1, "a")]) is None


async def test_refusals(records: Records, acme_key: PrivateKey) -> None:
    stranger = generate_key("ed25519")
    policy = SigningPolicy(records.fetch, signers={name_key("88.118.8"): stranger})
    unavailable = re.escape("no HS_CERT or HS_PUBKEY on 0.NA/88.118.8")
    with pytest.raises(SigningUnavailable, match=unavailable):
        await policy.prepare(PRODUCT, [url(1, "a")])
    now = int(time.time())
    wrong_subject = sign_record("88.118.8/OTHER", [url(1, "a")], ACME, 300, acme_key, now,
                                now + 60)
    elsewhere = re.escape("signs '88.118.8/OTHER', not 88.118.8/TV-0001")
    with pytest.raises(SignatureRejected, match=elsewhere):
        await SigningPolicy(records.fetch).check(PRODUCT, [url(1, "a"), wrong_subject])
    # an issuer nobody can resolve cannot be judged here: let through for the resolvers
    unknown = sign_record(PRODUCT, [url(1, "a")], "0.NA/99.1", 300, acme_key, now, now + 60)
    assert await SigningPolicy(records.fetch).prepare(PRODUCT, [url(1, "a"), unknown]) is None


def test_key_files(tmp_path: Path, acme_key: PrivateKey) -> None:
    p256 = generate_key("p256")
    pem = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert same_key(read_public_key(pem), p256.public_key())
    assert same_key(read_public_key(public_key_to_hs_pubkey(acme_key.public_key())),
                    acme_key.public_key())
    assert same_key(read_public_key(private_key_to_pem(acme_key)), acme_key.public_key())
    curve = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(TrustError, match="only P-256"):
        read_public_key(curve)

    config = NodeConfig(data_dir=tmp_path, sign_on_behalf=("88.118.8",),
                        trust_anchor_path=Path("root.pub"))
    with pytest.raises(ConfigError, match=re.escape("sign_on_behalf: no key for 88.118.8")):
        load_signers(config)
    with pytest.raises(ConfigError, match="trust_anchor_path: cannot read"):
        load_trust_anchor(config)
    path = enterprise_key_path(config, "88.118.8")
    path.parent.mkdir(parents=True)
    path.write_bytes(private_key_to_pem(acme_key, "secret"))
    with pytest.raises(ConfigError, match="a passphrase is needed"):
        load_signers(config)
    path.write_bytes(private_key_to_pem(acme_key))
    assert list(load_signers(config)) == ["88.118.8"]
    (tmp_path / "root.pub").write_bytes(pem)
    anchor = load_trust_anchor(config)
    assert anchor is not None and same_key(anchor, p256.public_key())
    assert load_trust_anchor(NodeConfig(data_dir=tmp_path)) is None


async def test_import_rejects_a_bad_signature_and_signs_on_behalf(
    tmp_path: Path, records: Records, acme_key: PrivateKey
) -> None:
    now = int(time.time())
    good = [url(1, "https://example.org/good")]
    lines = [
        {"handle": "88.118.9/SIGNED", "values": [value_to_json(v) for v in [
            url(1, "https://example.org/changed"),
            sign_record("88.118.9/SIGNED", good, ACME, 300, acme_key, now, now + 60)]]},
        {"handle": PRODUCT, "values": [value_to_json(v) for v in good]},
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = WriteRules(signers={name_key("88.118.8"): acme_key})
    store = await HandleStore.open(f"sqlite:///{tmp_path / 'registry.db'}", rules=rules)
    try:
        await store.create_handle(ACME, records.records[name_key(ACME)], actor="test")
        summary = await import_file(store, source)
        assert (summary.inserted, summary.rejected) == (1, 1)
        report = (tmp_path / "records.jsonl.rejected.csv").read_text()
        assert "88.118.9/SIGNED,HS_SIGNATURE 400: value 1 does not match its signed digest" in (
            report)
        assert await store.get_handle("88.118.9/SIGNED") is None
        stored = await store.get_handle(PRODUCT)
        assert stored is not None and [v.type for v in stored.values] == ["URL", "HS_SIGNATURE"]
    finally:
        await store.close()
