"""The plain values page (``/{handle}?noredirect``) says whether a signed record verifies.

The trust world and the signed product record are those of
:mod:`tests.resolver.http.test_verification` (a real store, the REST writes an
enterprise administrator makes, tampering in the database, a revocation list).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from protocol.values import HandleValue
from registry.store import HandleStore
from registry.trust import generate_key, issue_revocation
from registry.trust.keys import jwk_thumbprint
from resolver.core.service import ResolutionService
from resolver.http.product.signed_values import signature_notes
from tests.resolver.http.test_rest_harness import TV
from tests.resolver.http.test_verification import (
    NA,
    NODE,
    PRODUCT,
    Keys,
    Node,
    now,
    open_node,
    product_values,
    put,
    signed,
    tamper,
)


@pytest.fixture
async def world(database: HandleStore) -> AsyncIterator[Node]:
    """A served store with the trust world of :mod:`tests.resolver.http.test_verification`."""
    keys = Keys(generate_key("ed25519"), generate_key("p256"), generate_key("ed25519"),
                generate_key("p256"))
    async with open_node(database, keys) as opened:
        yield opened


async def page(node: Node, handle: str = PRODUCT, query: str = "") -> str:
    async with node.http.get(f"/{handle}?noredirect{query}") as response:
        body = await response.text()
    assert response.status == 200, body
    return body


async def test_a_valid_signature_is_said_in_chinese_then_english(world: Node) -> None:
    assert (await put(world, signed(product_values(), world.keys.ent8)))[0] == 201
    body = await page(world)
    assert 'data-status="valid"' in body and 'class="sig sig-valid"' in body
    assert "已验证：由 88.118.8 签名，并经本节点信任锚逐级验证" in body
    assert "Verified: signed by 88.118.8, checked up to this node&#x27;s trust anchor" in body
    assert body.index("已验证") < body.index("Verified: signed by")
    # the HS_SIGNATURE in plain words, its raw JWS kept in a <details>
    assert "由 88.118.8 签名；有效期至 " in body and "覆盖的值：1, 2, 3, 100" in body
    assert "Signed by 88.118.8; valid until " in body and "covers values 1, 2, 3, 100" in body
    assert "<details><summary>原始值 / Raw value</summary>" in body
    # the enterprise's HS_CERT on its prefix handle, in plain words
    cert_page = await page(world, NA)
    thumbprint = jwk_thumbprint(world.keys.ent8.public_key())
    assert f"Certificate: 88.118 certifies the key {thumbprint} of 300:{NA}; valid until" in (
        cert_page)
    assert f"证书：88.118 认证 300:{NA} 的密钥 {thumbprint}" in cert_page
    english = await page(world, query="&lang=en")
    assert "Verified: signed by 88.118.8" in english and "已验证" not in english


async def test_a_tampered_value_is_named(world: Node) -> None:
    assert (await put(world, signed(product_values(), world.keys.ent8)))[0] == 201
    await tamper(world, 2, b"service@example.orh")
    body = await page(world)
    assert 'data-status="invalid"' in body and 'class="sig sig-bad"' in body
    assert "签名验证失败：请勿信任此记录" in body
    assert "以下值在签名后被改动：2" in body and "These values changed after signing: 2" in body
    assert "value 2 does not match its signed digest" in body


async def test_a_revoked_key_is_said(world: Node) -> None:
    assert (await put(world, signed(product_values(), world.keys.ent8)))[0] == 201
    revocation = issue_revocation(NODE, 300, world.keys.node, [world.keys.ent8.public_key()], now())
    await world.store.add_values(NODE, [revocation], actor="test")
    body = await page(world)
    assert 'data-status="revoked"' in body
    assert "由 88.118.8 签名，但其签名密钥已被吊销" in body


async def test_an_unsigned_record_shows_no_verdict(world: Node) -> None:
    body = await page(world, TV)
    assert 'id="signature"' not in body and "sig-" not in body.split("</style>")[1]


async def test_an_unsigned_record_costs_no_verification(world: Node) -> None:
    """The notes of an unsigned record never call the verifier (a signed one does)."""
    calls: list[str] = []

    async def verify(service: ResolutionService, handle: str,
                     values: tuple[HandleValue, ...]) -> Any:
        calls.append(handle)
        raise AssertionError("verified an unsigned record")

    notes = signature_notes(world.served.service, verify)
    request = make_mocked_request("GET", f"/{TV}?noredirect")
    found = await notes(request, TV, tuple(product_values()))
    assert found.section == "" and not found.cells and calls == []
    with pytest.raises(AssertionError, match="verified an unsigned record"):
        await notes(request, PRODUCT, tuple(signed(product_values(), world.keys.ent8)))
    assert calls == [PRODUCT]
