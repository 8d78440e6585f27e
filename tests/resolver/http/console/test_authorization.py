"""Every console route refuses the wrong role, anonymous visitors and another enterprise's data.

The routes are enumerated from the console's route table, so a new route is
checked without being listed here (and one without a declared policy fails).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from registry.models import ROLES
from registry.passwords import hash_password
from resolver.http.console.app import make_console_app
from resolver.http.console.security import PUBLIC, policy_of
from tests.resolver.http.console.harness import (
    APPLIANCE,
    APPLICATION,
    PASSWORD,
    Console,
    Visitor,
    console_node,
    onboard,
)

OTHER = APPLICATION | {"name": "北京贝塔机械有限公司", "credit_code": "91110000600037341L",
                       "industry": "machinery", "admin_username": "beta-admin"}
A_HANDLE = "88.118.1/TV-0001"
A_DATA = (APPLIANCE["model"], APPLIANCE["serial"], APPLICATION["name"], "X-1", "a.csv")


def console_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) of every route of the console app."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        found.append((route.method, path, route.handler))
    return found


def concrete(path: str, job: str, user_id: int) -> str:
    """A route path with its parameters filled with enterprise A's data."""
    values = {"id": "1", "code": APPLICATION["credit_code"], "job": job, "lang": "en",
              "user_id": str(user_id)}
    return "/console" + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def _job_of_a(console: Console, admin: Visitor) -> str:
    await admin.get("/console/portal/bulk")
    form = aiohttp.FormData()
    form.add_field("csrf_token", admin.csrf)
    form.add_field("file", b"handle,index,type,data\n88.118.1/X-1,1,URL,https://e.com/1\n",
                   filename="a.csv", content_type="text/csv")
    status, text, location = await admin.post("/console/portal/bulk", form)
    assert status == 303, text
    return location.rsplit("/", 1)[1]


async def _as(console: Console, role: str) -> Visitor:
    visitor = console.visitor()
    await visitor.login({"operator": "operator", "reviewer": "reviewer",
                         "enterprise_admin": "beta-admin", "enterprise_user": "beta-user"}[role])
    return visitor


async def _call(visitor: Visitor, method: str, url: str) -> tuple[int, str]:
    if method == "GET":
        return await visitor.get(url, h=A_HANDLE)
    await visitor.get("/console/login")  # a page with this session's CSRF token
    status, text, _location = await visitor.post(f"{url}?h={A_HANDLE}", {"status": "active"})
    return status, text


async def test_every_route_declares_who_may_call_it(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        app = make_console_app(console_settings_stub(console))
        routes = console_routes(app)
        assert len(routes) > 20
        assert [p for _m, p, h in routes if policy_of(h) is None] == []


def console_settings_stub(console: Console) -> Any:
    from resolver.http.console.context import ConsoleSettings
    from resolver.http.console.sessions import RegistrySessions

    return ConsoleSettings(service=console.service, sessions=RegistrySessions(console.store),
                           node_prefix="88.118", site=None, public_url="http://x",
                           uploads=console.uploads)


async def test_wrong_roles_anonymous_visitors_and_other_enterprises_are_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin_a = await onboard(console)
        await admin_a.get("/console/portal/ids/new")
        status, _, _ = await admin_a.post("/console/portal/ids/new", APPLIANCE)
        assert status == 303
        job = await _job_of_a(console, admin_a)
        await admin_a.close()
        await (await onboard(console, OTHER)).close()  # enterprise B with its admin
        beta = await console.store.get_user("beta-admin")
        assert beta is not None
        await console.store.add_user("beta-user", hash_password(PASSWORD), "enterprise_user",
                                     enterprise=beta.enterprise, actor="test")
        a_admin = await console.store.get_user(APPLICATION["admin_username"])
        assert a_admin is not None
        visitors = {role: await _as(console, role) for role in ROLES}
        anonymous = console.visitor()
        checked = 0
        try:
            for method, path, handler in console_routes(
                    make_console_app(console_settings_stub(console))):
                policy = policy_of(handler)
                assert policy is not None, path
                if PUBLIC in policy:
                    continue
                url = concrete(path, job, a_admin.id)
                status, _ = await _call(anonymous, method, url)
                assert status in (303, 403), (method, url, status)
                if path == "/logout":  # every role may; calling it would end the sessions
                    continue
                for role, visitor in visitors.items():
                    status, text = await _call(visitor, method, url)
                    if role not in policy:
                        assert status == 403, (role, method, url, status)
                    elif role.startswith("enterprise"):  # enterprise B's people
                        # the query names A's handle; A's data must not come back
                        leaked = [m for m in A_DATA if m in text]
                        assert leaked == [], (role, url, leaked)
                        assert status not in (200, 303) or "{" not in path, (role, url, status)
                    checked += 1
        finally:
            for visitor in [*visitors.values(), anonymous]:
                await visitor.close()
        assert checked > 40
        record = await console.store.get_handle(A_HANDLE)
        assert record is not None  # nobody but A could delete it
        a_admin = await console.store.get_user(APPLICATION["admin_username"])
        assert a_admin is not None and not a_admin.disabled  # nor disable A's admin
