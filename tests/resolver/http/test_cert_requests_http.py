"""``POST /api/cert-requests``: an enterprise queues a certificate request for its own prefix
only and reads its decision back; a tampered, expired or oversized request is refused before
it is queued."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocol.references import encode_secret_key
from protocol.values import HandleValue
from registry.store import HandleStore
from registry.trust import PrivateKey, generate_key
from registry.trust.claims import HandleClaims
from registry.trust.jws import sign
from registry.trust.keys import jwk_thumbprint
from registry.trust.requests import MAX_REQUEST_BYTES
from tests.resolver.http import test_rest_harness as harness
from tests.resolver.http.test_rest_api import ADMIN, call
from tests.resolver.http.test_rest_harness import Served, admin_value, basic, serve

NA = harness.NA
OTHER, OTHER_SECRET = "0.NA/88.118.9", "other-secret"
OTHER_AUTH = {"Authorization": basic(f"300:{OTHER}", OTHER_SECRET)}


@pytest.fixture
async def node(database: HandleStore, tmp_path: Path) -> AsyncIterator[Served]:
    await database.add_enterprise("ACME", "Acme")
    await database.add_enterprise("OTHER", "Other")
    async with serve(database, tmp_path) as served:
        await database.create_prefix("88.118.8", owner="ACME")
        await database.create_prefix("88.118.9", owner="OTHER")
        await database.replace_handle(OTHER, [
            admin_value(100, OTHER, 300),
            HandleValue(300, "HS_SECKEY", encode_secret_key(OTHER_SECRET.encode()),
                        public_read=False),
        ], actor="test")
        yield served


@pytest.fixture
async def http(node: Served) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(node.url, connector=aiohttp.TCPConnector(ssl=False)) as s:
        yield s


def _request(subject: str, key: PrivateKey, *, signer: PrivateKey | None = None,
             life: int = 600) -> str:
    now = int(time.time())
    claims = HandleClaims(iss=f"300:{subject}", sub=f"300:{subject}", iat=now - 60,
                          nbf=now - 60, exp=now + life, public_key=key.public_key())
    return sign(claims.to_json(), signer or key).compact()


async def test_an_enterprise_queues_a_request_for_its_own_prefix(
    http: aiohttp.ClientSession, node: Served
) -> None:
    key = generate_key("ed25519")
    status, body = await call(http, "POST", "/api/cert-requests", data=_request(NA, key),
                              headers=ADMIN)
    assert status == 201, body
    queued = body["request"]
    assert (queued["subject"], queued["enterprise"], queued["key"], queued["state"]) == (
        f"300:{NA}", "ACME", jwk_thumbprint(key.public_key()), "pending")
    assert queued["submitted_by"] == f"300:{NA}"
    [listed] = await node.service.store.list_cert_requests(state="pending")
    assert listed.id == queued["id"]
    submitted = [e for e in await node.service.store.audit_entries(limit=1000)
                 if e.action == "cert.submit"]
    assert [e.detail["request"] for e in submitted] == [queued["id"]]
    # the other enterprise for its own prefix: fine; for ACME's: refused
    status, body = await call(http, "POST", "/api/cert-requests",
                              data=_request(OTHER, key), headers=OTHER_AUTH)
    assert status == 201 and body["request"]["enterprise"] == "OTHER"
    status, body = await call(http, "POST", "/api/cert-requests",
                              data=_request(NA, generate_key("ed25519")), headers=OTHER_AUTH)
    assert status == 403, body
    status, body = await call(http, "POST", "/api/cert-requests",
                              data=_request(f"{harness.PREFIX}/X", key), headers=OTHER_AUTH)
    assert status == 403, body
    status, body = await call(http, "POST", "/api/cert-requests", data=_request(NA, key))
    assert status == 401
    assert len(await node.service.store.list_cert_requests()) == 2
    # the decision is read back by the submitter's prefix only
    await node.service.store.decide_cert_request(queued["id"], "rejected", actor="reviewer",
                                                 reason="营业执照不符 / licence mismatch")
    status, body = await call(http, "GET", f"/api/cert-requests/{queued['id']}", headers=ADMIN)
    assert status == 200, body
    assert (body["request"]["state"], body["request"]["reason"]) == (
        "rejected", "营业执照不符 / licence mismatch")
    status, body = await call(http, "GET", f"/api/cert-requests/{queued['id']}",
                              headers=OTHER_AUTH)
    assert status == 404
    status, body = await call(http, "GET", "/api/cert-requests/999999", headers=ADMIN)
    assert status == 404


async def test_bad_requests_are_not_queued(http: aiohttp.ClientSession, node: Served) -> None:
    key = generate_key("ed25519")
    cases = {
        "expired": _request(NA, key, life=-10),
        "not signed by the key": _request(NA, key, signer=generate_key("ed25519")),
        "not a certificate request": "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
        f"more than {MAX_REQUEST_BYTES} bytes": "x" * (MAX_REQUEST_BYTES + 1),
    }
    for problem, text in cases.items():
        status, body = await call(http, "POST", "/api/cert-requests", data=text, headers=ADMIN)
        assert (status, body["responseCode"]) == (400, 202), (problem, body)
        assert problem in body["message"]
    assert await node.service.store.list_cert_requests() == []
