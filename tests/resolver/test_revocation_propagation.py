"""A revocation reaches nodes that cached the issuer's handle: ``revocation_ttl``, ``--fresh``.

The root -> node -> enterprise world of :mod:`tests.resolver.test_trust_three_levels`
(real ``idnode serve`` processes, P-256 keys), plus two stranger nodes recursing from
the root and anchored at its key.  The enterprise verifies its own record with
``revocation_ttl = 0``, the stranger ``soon`` with 2 s and the stranger ``late`` with a
day (what a verifier without the setting got: the issuer record's TTL).  All three have
the node's prefix handle 0.NA/88.118 (the issuer of the enterprise's certificate, where
its HS_REVOCATION goes) cached from the root with its TTL of a day when the node revokes
the enterprise's key at the root.  Then plain resolution still serves the cached copy
everywhere, while verification says revoked at once at the enterprise, within 2 s at
``soon`` (polled, no timing asserted), and at ``late`` only for a client asking with
``--fresh`` (the Handle protocol's AT flag: answered from the authority).  Verdicts are
read over REST (``?verify=true``, and the traceability answer behind the product page)
and over the Handle protocol (``idnode resolve --verify --server``, checked client-side).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.resolver.test_e2e import Proc
from tests.resolver.test_trust_three_levels import (
    ENT_NA,
    KEY,
    NODE_NA,
    PUMP,
    handle_protocol_verdict,
    issue_and_sign,
    rest_verdict,
    revoke_enterprise_key,
    running_world,
)

DAY = 86_400
#: how long the 2 s bound may take to show on a loaded machine before the test gives up
POLL_DEADLINE = 60.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Root, node, enterprise (revocation_ttl 0) and strangers soon (2 s) and late (a day),
    with the enterprise's record signed."""
    with running_world(tmp_path_factory.mktemp("revocation"), "p256",
                       strangers={"soon": "99", "late": "98"},
                       revocation_ttls={"enterprise": 0, "soon": 2, "late": DAY},
                       anchored=["enterprise"]) as started:
        issue_and_sign(started)
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def issuer_record(http: aiohttp.ClientSession, proc: Proc) -> list[dict[str, Any]]:
    """0.NA/88.118 as ``proc`` resolves it for anyone (plain, recursive resolution)."""
    address = f"http://127.0.0.1:{proc.http_port}/api/handles/{NODE_NA}"
    async with http.get(address) as response:
        body = await response.json()
        assert response.status == 200, (proc.name, body)
        values: list[dict[str, Any]] = body["values"]
        return values


async def trace_verdict(http: aiohttp.ClientSession, proc: Proc) -> str:
    """The record's signature status on ``proc``'s traceability answer (what its product
    page shows as "verified by")."""
    address = f"http://127.0.0.1:{proc.http_port}/api/trace/{PUMP}?direction=events"
    async with http.get(address) as response:
        body = await response.json()
        assert response.status == 200, (proc.name, body)
        status: str = body["node"]["signature"]
        return status


def revocations(values: list[dict[str, Any]]) -> list[int]:
    return [v["index"] for v in values if v["type"] == "HS_REVOCATION"]


def names_the_revocation(verdict: dict[str, Any], thumbprint: str) -> bool:
    """Whether ``verdict`` says revoked, which key (thumbprint), by whom and where."""
    return verdict["status"] == "revoked" and (
        f"revoked at 400:{ENT_NA}: 300:{NODE_NA} revoked the key of 300:{ENT_NA} "
        f"(key thumbprint {thumbprint}, HS_REVOCATION " in verdict["reason"]
        and f":{NODE_NA})" in verdict["reason"]
    )


async def test_a_revocation_counts_within_revocation_ttl_where_the_issuer_was_cached(
    world: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    root, enterprise, soon, late = (world[n] for n in ("root", "enterprise", "soon", "late"))
    thumbprint = enterprise.run("keys", "show", f"{KEY}.pub")["thumbprint"]
    at_root = await issuer_record(http, root)
    assert min(v["ttl"] for v in at_root) >= DAY, at_root  # plain caches would keep it a day
    for proc in (enterprise, soon, late):
        verdict = await rest_verdict(http, proc)
        assert verdict["status"] == "valid", (proc.name, verdict)
        assert revocations(await issuer_record(http, proc)) == []  # now cached there
        assert await trace_verdict(http, proc) == "valid", proc.name
    assert handle_protocol_verdict(world, late)["status"] == "valid"

    revoke_enterprise_key(world)
    assert revocations(await issuer_record(http, root)), "the revocation is at the root"
    for proc in (enterprise, soon, late):  # plain resolution: still the cached copy
        assert revocations(await issuer_record(http, proc)) == [], proc.name

    # revocation_ttl 0: revoked at the next verification, over REST
    at_enterprise = await rest_verdict(http, enterprise)
    assert names_the_revocation(at_enterprise, thumbprint), at_enterprise
    assert await trace_verdict(http, enterprise) == "revoked"  # the product page's verdict

    # a day (the issuer record's TTL, as before the setting): still valid there, and for a
    # Handle client verifying through it; with --fresh (AT) the client gets the revocation
    assert (await rest_verdict(http, late))["status"] == "valid"
    assert await trace_verdict(http, late) == "valid"
    assert handle_protocol_verdict(world, late)["status"] == "valid"
    fresh = handle_protocol_verdict(world, late, fresh=True)
    assert names_the_revocation(fresh, thumbprint), fresh
    assert revocations(await issuer_record(http, late)), "the refresh is cached for everyone"

    # 2 s: revoked once the cached copy is 2 s old (polled; no speed asserted)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_DEADLINE
    while (at_soon := await rest_verdict(http, soon))["status"] == "valid":
        assert loop.time() < deadline, at_soon
        await asyncio.sleep(0.2)
    assert names_the_revocation(at_soon, thumbprint), at_soon
    assert await trace_verdict(http, soon) == "revoked"
    assert handle_protocol_verdict(world, soon)["status"] == "revoked"
