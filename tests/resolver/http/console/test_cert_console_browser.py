"""Headless Chromium on both sides of a certificate request: the enterprise submits in its
portal, the reviewer approves one (the certificate verifies up to the root) and rejects
another, the enterprise sees both decisions.

The node starts with its issuer key configured (encrypted, passphrase in a file), as
``idnode serve`` would.  Screenshots of the reviewer's queue and the enterprise's list, zh-CN
and English, at 390 px and 1280 px wide, go to ``tests/artifacts/console/``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from protocol.constants import TYPE_HS_CERT
from registry.names import name_key
from registry.trust import Status, generate_key
from registry.trust.verify import verify_cert
from resolver.node import RunningNode, start_node
from tests.resolver.http.console.cert_chain import (
    NODE_HANDLE,
    cert_request,
    certify_node,
    fetch_from,
    issuer_config,
)
from tests.resolver.http.console.harness import APPLICATION, Console, onboard, seed_staff
from tests.resolver.http.console.test_console_browser import SHOTS, SIZES, Walk, browser
from tests.resolver.http.test_browser import chromium as chromium  # the fixture
from tests.resolver.http.test_browser import cjk_font as cjk_font  # the fixture

ACME = "0.NA/88.118.1"
REASON = "主体与营业执照不符 / subject does not match the licence"


def _shoot(walk: Walk, path: str, name: str) -> list[Path]:
    """``path`` in both languages at both widths."""
    taken = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for lang in ("zh_CN", "en"):
        walk.open(f"/console/lang/{lang}?next=/console/")
        for size, (width, height) in SIZES.items():
            walk.driver.set_window_size(width, height)
            walk.open(path)
            walk.el("lang")
            shot = SHOTS / f"{name}.{lang}.{size}.png"
            walk.driver.save_screenshot(str(shot))
            taken.append(shot)
    walk.driver.set_window_size(*SIZES["desktop"])
    walk.open("/console/lang/zh_CN?next=/console/")
    return taken


def both_sides(walk: Walk, requests: list[str]) -> tuple[dict[str, str], list[Path]]:
    """Submit, review, look; what the pages said and the screenshots taken."""
    seen: dict[str, str] = {}
    walk.login(APPLICATION["admin_username"])
    for text in requests:
        walk.open("/console/portal/cert-requests")
        walk.set_value("request-text", text)
        walk.submit("submit-request")  # read on the page the post leads to
        seen.setdefault("queued", walk.text("queued"))
    walk.open("/console/")
    walk.logout()

    walk.login("reviewer")
    shots = _shoot(walk, "/console/cert-requests", "cert-requests")
    walk.open("/console/cert-requests")
    walk.type("days-1", "30")
    walk.submit("approve-1")  # the old page still says 待审核 until replaced
    seen["approved"] = walk.text("state-1")
    walk.open("/console/cert-requests")
    walk.type("reject-reason-2", REASON)
    walk.submit("reject-2")
    seen["rejected"] = walk.text("state-2")
    shots += _shoot(walk, "/console/cert-requests?state=approved", "cert-requests-approved")
    walk.open("/console/")
    walk.logout()

    walk.login(APPLICATION["admin_username"])
    walk.open("/console/portal/cert-requests")
    seen["certificate"] = walk.text("certificate-1")
    seen["reason"] = walk.text("reason-2")
    shots += _shoot(walk, "/console/portal/cert-requests", "portal-cert-requests")
    walk.open("/console/")
    walk.logout()
    return seen, shots


async def test_certificate_requests_in_a_browser(cjk_font: None, tmp_path: Path) -> None:
    del cjk_font
    root, node_key = generate_key("ed25519"), generate_key("ed25519")
    config = issuer_config(tmp_path / "node", node_key, handle_port=0, http_port=0,
                           dns_port=0)
    node: RunningNode = await start_node(config)
    try:
        await seed_staff(node.store)
        await certify_node(node.store, root, node_key)
        base = f"http://127.0.0.1:{node.http_port}"
        await (await onboard(Console(node.store, node.service, base, tmp_path))).close()
        with browser(tmp_path / "profile") as driver:
            seen, shots = await asyncio.to_thread(
                both_sides, Walk(driver, base), [cert_request(ACME) for _ in range(3)])
        record = await node.store.get_handle(ACME)
        assert record is not None
        [cert] = [v for v in record.values if name_key(v.type) == TYPE_HS_CERT]
        verdict, reason, chain = await verify_cert(
            ACME, cert, fetch=fetch_from(node.store), trust_anchor=root.public_key())
        states = [(await node.store.get_cert_request(n)) for n in (1, 2, 3)]
    finally:
        await node.close()
    assert "1" in seen["queued"]
    assert seen["approved"] == "已通过" and seen["rejected"] == "已驳回"
    assert f"HS_CERT {cert.index} · {ACME}" in seen["certificate"]
    assert seen["reason"] == REASON
    assert verdict is Status.VALID, reason
    assert [link.handle for link in chain] == [ACME, NODE_HANDLE]
    assert [s.state for s in states if s is not None] == ["approved", "rejected", "pending"]
    assert states[0] is not None and states[0].decided_by == "console:reviewer"
    assert len(shots) == 12 and all(shot.stat().st_size > 5000 for shot in shots)
