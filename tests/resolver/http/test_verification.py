"""Signed records end to end: REST writes and ``?verify=true`` over a real store.

The trust world: the root's key is the node's trust anchor; the root's HS_CERT
for the node key sits on ``0.NA/88.118``, the node's HS_CERT for each
enterprise key on ``0.NA/88.118.8`` and ``0.NA/88.118.9``.  Records are
written through the REST API as an enterprise administrator would, then
tampered with in the database or had their certificates expired or revoked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from protocol.constants import RC_INVALID_VALUE
from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from registry.names import name_key
from registry.store import HandleStore
from registry.trust import (
    PrivateKey,
    generate_key,
    issue_cert,
    issue_revocation,
    prefix_permissions,
    sign_record,
)
from registry.write_rules import WriteRules
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.handle.server import run_handle_server
from tests.resolver.http.test_rest_harness import (
    ADMIN_ID,
    NA,
    PREFIX,
    SECRET,
    TV,
    admin_value,
    basic,
    serve,
)

NODE = "0.NA/88.118"
ENT9 = "0.NA/88.118.9"
ROOT_ID = ("0.NA/88", 300)
DAY = 86_400
ADMIN = {"Authorization": basic(ADMIN_ID, SECRET)}
PRODUCT = f"{PREFIX}/TV-0100"


@dataclass(frozen=True)
class Keys:
    """One key per party of the chain."""

    root: PrivateKey
    node: PrivateKey
    ent8: PrivateKey
    ent9: PrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(generate_key("ed25519"), generate_key("p256"), generate_key("ed25519"),
                generate_key("p256"))


@dataclass
class Node:
    """A served store with the trust world in it."""

    http: aiohttp.ClientSession
    store: HandleStore
    keys: Keys
    served: Any


def now() -> int:
    return int(time.time())


def enterprise_cert(keys: Keys, handle: str, key: PrivateKey, not_before: int, expires: int
                    ) -> HandleValue:
    return issue_cert(NODE, 300, keys.node, handle, 300, key.public_key(), not_before, expires,
                      prefix_permissions(handle, derived_prefixes=True))


async def seed_trust(store: HandleStore, keys: Keys, *, ent8_expires: int) -> None:
    t = now()
    root_cert = issue_cert(*ROOT_ID, keys.root, NODE, 300, keys.node.public_key(), t - DAY,
                           t + 365 * DAY, prefix_permissions(NODE, derived_prefixes=True))
    await store.create_handle(NODE, [root_cert], actor="test")
    await store.add_values(NA, [enterprise_cert(keys, NA, keys.ent8, t - DAY, ent8_expires)],
                           actor="test")
    await store.create_handle(
        ENT9, [enterprise_cert(keys, ENT9, keys.ent9, t - DAY, t + 90 * DAY)], actor="test"
    )


@asynccontextmanager
async def open_node(store: HandleStore, keys: Keys, **policy: Any) -> AsyncIterator[Node]:
    async with serve(store, allow_insecure_auth=True) as served:
        await seed_trust(store, keys, ent8_expires=policy.pop("ent8_expires", now() + 90 * DAY))
        served.service.trust_anchor = keys.root.public_key()
        if policy:
            store.rules = WriteRules(**policy)
        async with aiohttp.ClientSession(served.url) as http:
            yield Node(http, store, keys, served)


@pytest.fixture
async def node(database: HandleStore, keys: Keys) -> AsyncIterator[Node]:
    async with open_node(database, keys) as opened:
        yield opened


def product_values() -> list[HandleValue]:
    return [
        HandleValue(1, "URL", b"https://example.org/tv-0100"),
        HandleValue(2, "EMAIL", b"service@example.org"),
        HandleValue(3, "TRACE.BATCH", b'{"batch":"B-17"}'),
        admin_value(100, NA, 300),
    ]


def signed(values: list[HandleValue], key: PrivateKey, signer: str = NA,
           handle: str = PRODUCT) -> list[HandleValue]:
    t = now()
    return [*values, sign_record(handle, values, signer, 300, key, t - 60, t + 30 * DAY)]


async def put(node: Node, values: list[HandleValue], handle: str = PRODUCT
              ) -> tuple[int, dict[str, Any]]:
    body = {"values": [value_to_json(v) for v in values]}
    async with node.http.put(f"/api/handles/{handle}", json=body, headers=ADMIN) as response:
        return response.status, await response.json()


async def tamper(node: Node, index: int, data: bytes, handle: str = PRODUCT) -> None:
    """Change value ``index`` of ``handle`` in the database, behind the node's back."""
    async with node.store.engine.begin() as conn:
        changed = await conn.execute(
            text("UPDATE handle_values SET data = :data WHERE idx = :idx AND handle_id = "
                 "(SELECT id FROM handles WHERE name_key = :key)"),
            {"data": data, "idx": index, "key": name_key(handle)},
        )
        assert changed.rowcount == 1


async def verification(node: Node, handle: str = PRODUCT, query: str = "") -> dict[str, Any]:
    async with node.http.get(f"/api/handles/{handle}?verify=true{query}") as response:
        body = await response.json()
    assert response.status == 200, body
    result: dict[str, Any] = body["verification"]
    return result


async def test_signed_record_verifies_through_the_full_chain(node: Node) -> None:
    status, body = await put(node, signed(product_values(), node.keys.ent8))
    assert status == 201, body
    report = await verification(node)
    assert report["status"] == "valid", report
    assert report["failedValues"] == [] and report["signer"] == f"300:{NA}"
    assert [(link["handle"], link["status"], link["issuer"]) for link in report["chain"]] == [
        (PRODUCT, "ok", f"300:{NA}"),
        (NA, "ok", f"300:{NODE}"),
        (NODE, "ok", "300:0.NA/88"),
    ]
    # filters select what is shown, never what is checked
    filtered = await verification(node, query="&type=URL")
    assert filtered["status"] == "valid"
    async with node.http.get(f"/api/handles/{PRODUCT}") as response:
        assert "verification" not in await response.json()


async def test_one_changed_byte_in_the_database_names_the_value(node: Node) -> None:
    assert (await put(node, signed(product_values(), node.keys.ent8)))[0] == 201
    await tamper(node, 2, b"service@example.orh")
    report = await verification(node)
    assert report["status"] == "invalid"
    assert report["failedValues"] == [2]
    assert "value 2 does not match its signed digest" in report["reason"]


async def test_unsigned_records_are_unsigned_never_valid(node: Node) -> None:
    report = await verification(node, TV)
    assert report == {"status": "unsigned", "reason": "the record has no HS_SIGNATURE value",
                      "failedValues": [], "signer": "", "chain": []}


async def test_another_enterprises_key_is_untrusted(node: Node) -> None:
    status, body = await put(node, signed(product_values(), node.keys.ent9, signer=ENT9))
    assert status == 201, body  # a good signature: only its chain is wrong
    report = await verification(node)
    assert report["status"] == "untrusted"
    assert f"300:{ENT9} is not authorised for {PRODUCT}" in report["reason"]


async def test_revoked_key(node: Node) -> None:
    assert (await put(node, signed(product_values(), node.keys.ent8)))[0] == 201
    revocation = issue_revocation(NODE, 300, node.keys.node, [node.keys.ent8.public_key()], now())
    await node.store.add_values(NODE, [revocation], actor="test")
    report = await verification(node)
    assert report["status"] == "revoked"
    assert f"300:{NODE} revoked the key of 300:{NA}" in report["reason"]


async def test_expired_certificate(database: HandleStore, keys: Keys) -> None:
    async with open_node(database, keys, ent8_expires=now() - 60) as node:
        assert (await put(node, signed(product_values(), keys.ent8)))[0] == 201
        report = await verification(node)
        assert report["status"] == "expired"
        assert report["chain"][1]["handle"] == NA and report["chain"][1]["status"] == "expired"


async def test_no_trust_anchor_is_at_best_untrusted(node: Node) -> None:
    assert (await put(node, signed(product_values(), node.keys.ent8)))[0] == 201
    node.served.service.trust_anchor = None
    report = await verification(node)
    assert report["status"] == "untrusted"
    assert report["reason"].startswith("no trust anchor is configured")


async def test_write_with_a_bad_signature_is_refused_and_nothing_stored(node: Node) -> None:
    values = signed(product_values(), node.keys.ent8)
    tampered = [HandleValue(2, "EMAIL", b"attacker@example.org") if v.index == 2 else v
                for v in values]
    status, body = await put(node, tampered)
    assert status == 400 and body["responseCode"] == RC_INVALID_VALUE
    assert body["message"] == "HS_SIGNATURE 400: value 2 does not match its signed digest"
    forged = signed(product_values(), node.keys.ent9)  # claims to be 88.118.8
    status, body = await put(node, forged)
    assert status == 400 and body["responseCode"] == RC_INVALID_VALUE
    assert f"does not verify under the key of 300:{NA}" in body["message"]
    assert await node.store.get_handle(PRODUCT) is None
    # a change that leaves a stored signature stale is refused as well
    assert (await put(node, values))[0] == 201
    async with node.http.put(f"/api/handles/{PRODUCT}?index=1", headers=ADMIN, json=[
            {"index": 1, "type": "URL", "data": "https://attacker.example/"}]) as response:
        assert response.status == 400
        assert "value 1 does not match" in (await response.json())["message"]
    record = await node.store.get_handle(PRODUCT)
    assert record is not None and record.values[0].data == b"https://example.org/tv-0100"


async def test_handle_protocol_writes_are_checked_too(node: Node) -> None:
    server = await run_handle_server(node.served.service, "127.0.0.1", 0)
    try:
        values = signed(product_values(), node.keys.ent8)
        tampered = [HandleValue(3, "TRACE.BATCH", b"{}") if v.index == 3 else v for v in values]
        with pytest.raises(HandleClientError) as refused:
            await HandleClient(timeout=5.0).create_handle(
                PRODUCT, tampered, server=("127.0.0.1", server.port),
                auth=SecretKeyAuth(NA, 300, SECRET.encode()),
            )
    finally:
        await server.close()
    assert refused.value.response_code == RC_INVALID_VALUE
    assert "value 3 does not match its signed digest" in refused.value.message
    assert await node.store.get_handle(PRODUCT) is None


async def test_sign_on_behalf(database: HandleStore, keys: Keys) -> None:
    signers = {name_key(PREFIX): keys.ent8}
    async with open_node(database, keys, signers=signers, trust_anchor=None) as node:
        status, body = await put(node, product_values())
        assert status == 201, body
        report = await verification(node)
        assert report["status"] == "valid" and report["signer"] == f"300:{NA}"
        async with node.http.put(f"/api/handles/{PRODUCT}?index=1", headers=ADMIN, json=[
                {"index": 1, "type": "URL", "data": "https://example.org/v2"}]) as response:
            assert response.status == 200
        record = await database.get_handle(PRODUCT)
        assert record is not None
        assert [v.type for v in record.values].count("HS_SIGNATURE") == 1
        assert (await verification(node))["status"] == "valid"
