"""The console's certificate request queue: staff see pending requests and reject them with a
reason (audited); an enterprise admin cannot reach the page."""

from __future__ import annotations

import time
from pathlib import Path

from registry.trust import generate_key
from registry.trust.claims import HandleClaims
from registry.trust.jws import sign
from tests.resolver.http.console.harness import console_node, onboard


def _request(subject: str) -> str:
    key = generate_key("ed25519")
    now = int(time.time())
    claims = HandleClaims(iss=f"300:{subject}", sub=f"300:{subject}", iat=now, nbf=now,
                          exp=now + 600, public_key=key.public_key())
    return sign(claims.to_json(), key).compact()


async def test_staff_list_and_reject(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        queued = await console.store.submit_cert_request(
            _request("0.NA/88.118.1"), actor="300:0.NA/88.118.1", now=int(time.time()))
        status, _text = await admin.get("/console/cert-requests")
        assert status == 403
        await admin.close()
        reviewer = console.visitor()
        await reviewer.login("reviewer")
        status, text = await reviewer.get("/console/cert-requests")
        assert status == 200 and f'id="cert-request-{queued.id}"' in text
        assert queued.key_thumbprint in text and f"idnode cert approve {queued.id}" in text
        path = f"/console/cert-requests/{queued.id}/reject"
        status, text, _ = await reviewer.post(path, {"reason": " "})
        assert status == 400 and 'id="review-error"' in text
        status, _text, _ = await reviewer.post(path, {"reason": "密钥不符"}, csrf=False)
        assert status == 403  # no CSRF token
        status, text, location = await reviewer.post(path, {"reason": "密钥不符"})
        assert (status, location) == (303, "/console/cert-requests?state=rejected"), text
        decided = await console.store.get_cert_request(queued.id)
        assert decided is not None
        assert (decided.state, decided.reason) == ("rejected", "密钥不符")
        assert decided.decided_by is not None and "reviewer" in decided.decided_by
        [entry] = [e for e in await console.store.audit_entries(limit=1000)
                   if e.action == "cert.reject"]
        assert entry.detail["request"] == queued.id
        status, text, _ = await reviewer.post(path, {"reason": "again"})
        assert status == 409
        await reviewer.close()
