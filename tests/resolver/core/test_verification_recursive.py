"""Verification of recursively resolved records: root -> node -> delegated enterprise node.

The world of :mod:`tests.resolver.core.test_recursive` (three Handle servers on
loopback) with certificates: the root's for the node key on the root's
``0.NA/88.118`` (and the node's own copy), the node's for the enterprise key on
``0.NA/88.118.9``.  The enterprise's records live on its own server; a
stranger node anchored at the root key verifies them by resolving the record
and every certificate in the chain recursively.  The world runs once with
Ed25519 keys and once with SM2 keys (SM2 signatures, SM3 record digests).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocol.values import HandleValue
from registry.trust import generate_key, issue_cert, prefix_permissions, sign_record
from registry.trust.keys import PrivateKey
from resolver.core.verification import verify
from tests.resolver.core.test_recursive import PUMP, World, put, running_world, url

NODE = "0.NA/88.118"
ENT9 = "0.NA/88.118.9"
DAY = 86_400


@pytest.fixture(params=["ed25519", "sm2"])
async def world(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[World, PrivateKey]]:
    """The running world with its certificates; the root key is returned for anchoring."""
    root_key, node_key, ent_key = (generate_key(request.param) for _ in range(3))
    now = int(time.time())
    async with running_world(tmp_path) as started:
        root_cert = issue_cert("0.NA/88", 300, root_key, NODE, 300, node_key.public_key(),
                               now - DAY, now + DAY, prefix_permissions(NODE,
                                                                       derived_prefixes=True))
        for holder in (started.root, started.node):
            record = await holder.store.get_handle(NODE)
            assert record is not None
            await put(holder, NODE, [*record.values, root_cert])
        ent_cert = issue_cert(NODE, 300, node_key, ENT9, 300, ent_key.public_key(), now - DAY,
                              now + DAY, prefix_permissions(ENT9))
        record = await started.node.store.get_handle(ENT9)
        assert record is not None
        await put(started.node, ENT9, [*record.values, ent_cert])
        signed = [url(1, "https://pump.example/1")]
        await put(started.enterprise, PUMP, [
            *signed, sign_record(PUMP, signed, ENT9, 300, ent_key, now - 60, now + DAY)])
        tampered = [url(1, "https://pump.example/2")]
        await put(started.enterprise, "88.118.9/PUMP-2", [
            HandleValue(1, "URL", b"https://evil.example/"),
            sign_record("88.118.9/PUMP-2", tampered, ENT9, 300, ent_key, now - 60, now + DAY)])
        yield started, root_key


async def test_a_stranger_verifies_the_chain_recursively(
    world: tuple[World, PrivateKey],
) -> None:
    started, root_key = world
    stranger = await started.start("stranger", "99")
    stranger.service.trust_anchor = root_key.public_key()
    report = await verify(stranger.service, PUMP, recursive=True)
    assert report is not None and report.status == "valid", report
    assert [(link.handle, link.status) for link in report.chain] == [
        (PUMP, "ok"), (ENT9, "ok"), (NODE, "ok")]
    bad = await verify(stranger.service, "88.118.9/PUMP-2", recursive=True)
    assert bad is not None and bad.status == "invalid" and bad.failed_values == (1,)
    assert await verify(stranger.service, PUMP, recursive=False) is None  # not its own


async def test_the_node_verifies_its_delegated_enterprise(
    world: tuple[World, PrivateKey],
) -> None:
    started, root_key = world
    started.node.service.trust_anchor = root_key.public_key()
    report = await verify(started.node.service, PUMP, recursive=True)
    assert report is not None
    assert report.status == "valid", report.reason
