"""Certificate requests in the enterprise portal: an enterprise admin submits (pasted or as the
file), sees its own requests with their decisions and the issued certificate, and never sees
or submits another enterprise's; errors name the problem."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from registry.cert_issuer import load_cert_issuer
from registry.passwords import hash_password
from registry.store import HandleStore
from registry.trust import generate_key
from registry.trust.claims import HandleClaims
from registry.trust.jws import sign
from registry.trust.requests import MAX_REQUEST_BYTES
from tests.resolver.http.console.cert_chain import cert_request, certify_node, issuer_config
from tests.resolver.http.console.harness import (
    APPLICATION,
    PASSWORD,
    Console,
    Visitor,
    console_node,
    onboard,
)
from tests.resolver.http.console.test_authorization import OTHER

PAGE = "/console/portal/cert-requests"


async def _prefix_of(store: HandleStore, username: str) -> tuple[str, str]:
    """The enterprise code and first prefix of ``username``'s enterprise."""
    user = await store.get_user(username)
    assert user is not None and user.enterprise is not None
    [prefix] = await store.list_prefixes(owner=user.enterprise)
    return user.enterprise, prefix.name


async def _submit_text(visitor: Visitor, text: str) -> tuple[int, str, str]:
    await visitor.get(PAGE)
    return await visitor.post(PAGE, {"request": text})


async def _submit_file(visitor: Visitor, content: bytes) -> tuple[int, str, str]:
    await visitor.get(PAGE)
    form = aiohttp.FormData()
    form.add_field("csrf_token", visitor.csrf)
    form.add_field("request", "")
    form.add_field("file", content, filename="acme.certreq",
                   content_type="application/octet-stream")
    return await visitor.post(PAGE, form)


async def _two_enterprises(console: Console) -> tuple[Visitor, Visitor]:
    return await onboard(console), await onboard(console, OTHER)


async def test_an_enterprise_submits_and_sees_only_its_own(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        alpha, beta = await _two_enterprises(console)
        store = console.store
        a_code, a_prefix = await _prefix_of(store, APPLICATION["admin_username"])
        b_code, b_prefix = await _prefix_of(store, OTHER["admin_username"])
        assert a_prefix != b_prefix

        status, text = await alpha.get("/console/portal")
        assert f'href="{PAGE}"' in text
        status, text = await alpha.get(PAGE)
        assert status == 200 and 'id="request-form"' in text and "暂无证书申请" in text

        status, text, location = await _submit_text(alpha, cert_request(f"0.NA/{a_prefix}"))
        assert status == 303 and location.startswith(PAGE + "?queued="), text
        first = int(location.rpartition("=")[2])
        status, text, location = await _submit_file(
            alpha, cert_request(f"{a_prefix}/SIGNER").encode() + b"\n")
        assert status == 303, text
        second = int(location.rpartition("=")[2])
        status, text = await alpha.get(location)
        assert 'id="queued"' in text and f"证书申请 {second} 已提交" in text
        assert f'id="cert-request-{first}"' in text and f'id="cert-request-{second}"' in text
        assert text.index(f"cert-request-{second}") < text.index(f"cert-request-{first}")
        assert "待审核" in text
        queued = await store.get_cert_request(first)
        assert queued is not None and queued.enterprise == a_code
        assert queued.submitted_by == f"console:{APPLICATION['admin_username']}"

        # another enterprise's prefix, and one nobody holds: refused, nothing queued
        for subject in (f"0.NA/{b_prefix}", f"{b_prefix}/X", "0.NA/88.118.77"):
            status, text, _ = await _submit_text(alpha, cert_request(subject))
            assert status == 403 and 'id="request-error"' in text, subject
            assert subject in text and "不属于贵企业的前缀" in text
        assert len(await store.list_cert_requests()) == 2

        # errors name the problem
        now = int(time.time())
        key = generate_key("ed25519")
        expired = sign(HandleClaims(iss=f"300:0.NA/{a_prefix}", sub=f"300:0.NA/{a_prefix}",
                                    iat=now - 100, nbf=now - 100, exp=now - 10,
                                    public_key=key.public_key()).to_json(), key).compact()
        cases = {
            "": "请粘贴申请内容",
            "A" * (MAX_REQUEST_BYTES + 1): f"申请超过 {MAX_REQUEST_BYTES} 字节",
            "证书": "不是 ASCII 文本",
            "not.a.request": "not a certificate request",
            expired: "the request is expired",
        }
        for sent, message in cases.items():
            status, text, _ = await _submit_text(alpha, sent)
            assert status == 400 and message in text, (sent[:20], text[-2000:])
        status, text, _ = await _submit_file(alpha, b"\xff" * 10)
        assert status == 400 and "不是 ASCII 文本" in text
        status, text, _ = await _submit_file(alpha, b"A" * (MAX_REQUEST_BYTES + 1))
        assert status == 400 and "字节" in text
        assert len(await store.list_cert_requests()) == 2

        # B's request is B's alone
        status, _text, location = await _submit_text(beta, cert_request(f"0.NA/{b_prefix}"))
        assert status == 303
        b_id = int(location.rpartition("=")[2])
        status, text = await alpha.get(PAGE)
        assert f"cert-request-{b_id}" not in text and b_prefix not in text.split(
            'id="my-cert-requests"')[1]
        status, text = await beta.get(PAGE)
        assert f"cert-request-{b_id}" in text and f"cert-request-{first}" not in text
        assert (await store.get_cert_request(b_id)).enterprise == b_code  # type: ignore[union-attr]

        # an enterprise user sees the list but cannot submit
        await store.add_user("alpha-user", hash_password(PASSWORD), "enterprise_user",
                             enterprise=a_code, actor="test")
        user = console.visitor()
        await user.login("alpha-user")
        status, text = await user.get(PAGE)
        assert status == 200 and f"cert-request-{first}" in text
        assert 'id="request-form"' not in text
        status, _text, _ = await user.post(PAGE, {"request": cert_request(f"0.NA/{a_prefix}")})
        assert status == 403
        for visitor in (alpha, beta, user):
            await visitor.close()


async def test_decisions_show_in_the_enterprise_list(sqlite_url: str, tmp_path: Path) -> None:
    root, node_key = generate_key("ed25519"), generate_key("ed25519")
    issuer = load_cert_issuer(issuer_config(tmp_path / "node", node_key))
    async with console_node(sqlite_url, tmp_path, issuer=issuer) as console:
        await certify_node(console.store, root, node_key)
        alpha = await onboard(console)
        _code, prefix = await _prefix_of(console.store, APPLICATION["admin_username"])
        ids = []
        for _n in range(2):
            status, _text, location = await _submit_text(alpha, cert_request(f"0.NA/{prefix}"))
            assert status == 303
            ids.append(int(location.rpartition("=")[2]))
        reviewer = console.visitor()
        await reviewer.login("reviewer")
        await reviewer.get("/console/cert-requests")
        status, _text, _ = await reviewer.post(f"/console/cert-requests/{ids[0]}/reject",
                                               {"reason": "主体与营业执照不符"})
        assert status == 303
        status, _text, _ = await reviewer.post(f"/console/cert-requests/{ids[1]}/approve",
                                               {"days": "30"})
        assert status == 303
        await reviewer.close()

        status, text = await alpha.get(PAGE)
        rejected = text.split(f'id="cert-request-{ids[0]}"')[1].split("</section>")[0]
        assert "已驳回" in rejected and "主体与营业执照不符" in rejected
        assert "HS_CERT" not in rejected and "reviewer" not in rejected
        approved = text.split(f'id="cert-request-{ids[1]}"')[1].split("</section>")[0]
        until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
        assert "已通过" in approved and f"HS_CERT 400 · 0.NA/{prefix}" in approved
        assert f"有效期至 {until}" in approved
        status, text = await alpha.get(PAGE, lang="en")
        assert "Valid until" in text and "Approved" in text and "Rejected" in text
        await alpha.close()
