"""A console served over a real HTTP socket on an SQLite registry, and a small form-filling client.

:func:`console_node` yields a :class:`Console` with the store, the service and
the base URL; :class:`Visitor` is one browser-like session (cookie jar) that
fills forms with the CSRF token of the page it last loaded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from registry.bootstrap import ensure_node_identity
from registry.cert_issuer import CertIssuer
from registry.passwords import hash_password
from registry.store import HandleStore
from resolver.core.service import ResolutionService
from resolver.http.api import run_http_server
from resolver.http.console.context import ConsoleSettings
from resolver.http.console.sessions import RegistrySessions
from resolver.http.console.wiring import console_for_http

NODE_PREFIX = "88.118"
PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
APPLICATION = {
    "name": "青岛海岳电器有限公司", "credit_code": "91350100M000100Y43",
    "address": "山东省青岛市崂山区海尔路 1 号", "legal_representative": "张三",
    "contact_name": "李四", "contact_phone": "0532-88889999",
    "contact_email": "li@example.com", "industry": "appliance", "requested_prefix": "",
    "admin_username": "haiyue-admin", "password": PASSWORD, "password2": PASSWORD,
}
APPLIANCE = {
    "template": "appliance.product@1", "prefix": "88.118.1", "suffix": "TV-0001",
    "model": "BCD-470WDPG", "serial": "SN20260001", "category": "television",
    "production_date": "2026-03-01", "factory": "CN-QD01", "energy_grade": "A",
    "rated_power_w": "120", "url": "https://example.com/tv/0001",
}


@dataclass
class Console:
    """A running console: its registry, resolution service and base URL."""

    store: HandleStore
    service: ResolutionService
    url: str
    uploads: Path

    def visitor(self) -> Visitor:
        """A fresh browser-like client."""
        return Visitor(self.url)


class Visitor:
    """One client with its own cookies; forms carry the CSRF token of the last page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        """Close the connection pool."""
        await self.session.close()

    async def get(self, path: str, **params: Any) -> tuple[int, str]:
        """GET ``path`` (no redirects followed); remembers the page's CSRF token."""
        async with self.session.get(self.base + path, params=params or None,
                                    allow_redirects=False) as response:
            text = await response.text()
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return response.status, text

    async def post(self, path: str, data: dict[str, Any] | aiohttp.FormData, *,
                   csrf: bool = True) -> tuple[int, str, str]:
        """POST a form; returns status, body and the Location header."""
        if isinstance(data, dict):
            data = {**data, "csrf_token": self.csrf} if csrf else dict(data)
        async with self.session.post(self.base + path, data=data,
                                     allow_redirects=False) as response:
            text = await response.text()
            return response.status, text, response.headers.get("Location", "")

    async def login(self, username: str, password: str = PASSWORD) -> str:
        """Log in; the page the login redirects to."""
        await self.get("/console/login")
        status, text, location = await self.post(
            "/console/login", {"username": username, "password": password})
        assert status == 303, text
        await self.get(location)
        return location


async def seed_staff(store: HandleStore) -> None:
    """The node identity and one operator and one reviewer."""
    await ensure_node_identity(store, NODE_PREFIX, site=None, admin_pubkey=b"\0" * 8,
                               actor="test")
    for name in ("operator", "reviewer"):
        await store.add_user(name, hash_password(PASSWORD), name, actor="test")


@asynccontextmanager
async def console_node(database_url: str, tmp_path: Path, *,
                       issuer: CertIssuer | None = None) -> AsyncIterator[Console]:
    """A console on an ephemeral port over a fresh registry with staff accounts; with
    ``issuer`` it approves certificate requests."""
    store = await HandleStore.open(database_url)
    service = ResolutionService(store)
    await seed_staff(store)
    uploads = tmp_path / "uploads"
    settings = ConsoleSettings(service=service, sessions=RegistrySessions(store),
                               node_prefix=NODE_PREFIX, site=None,
                               public_url="http://127.0.0.1:8000", uploads=uploads,
                               issuer=issuer)
    runner, port = await run_http_server(service, "127.0.0.1", 0,
                                         console=console_for_http(settings))
    try:
        yield Console(store, service, f"http://127.0.0.1:{port}", uploads)
    finally:
        await runner.cleanup()
        await store.close()


async def onboard(console: Console, application: dict[str, str] = APPLICATION) -> Visitor:
    """Apply, approve as the reviewer, and return the new enterprise admin logged in."""
    applicant = console.visitor()
    await applicant.get("/console/apply")
    status, text, _ = await applicant.post("/console/apply", application)
    assert status == 200, text
    await applicant.close()
    reviewer = console.visitor()
    await reviewer.login("reviewer")
    pending = (await console.store.list_applications("pending"))[0]
    await reviewer.get(f"/console/reviews/{pending.id}")
    status, text, _ = await reviewer.post(f"/console/reviews/{pending.id}/approve", {})
    assert status == 303, text
    await reviewer.close()
    admin = console.visitor()
    await admin.login(application["admin_username"])
    return admin
