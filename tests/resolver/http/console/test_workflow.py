"""The console's main paths over HTTP: apply, review, approve, register, suspend."""

from __future__ import annotations

from pathlib import Path

from registry.names import prefix_handle
from tests.resolver.http.console.harness import APPLIANCE, APPLICATION, console_node, onboard


async def test_bad_credit_code_is_refused_next_to_the_field(sqlite_url: str, tmp_path: Path
                                                            ) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        visitor = console.visitor()
        await visitor.get("/console/apply")
        wrong = APPLICATION | {"credit_code": "91350100M000100Y44"}
        status, text, _ = await visitor.post("/console/apply", wrong)
        await visitor.close()
        assert status == 400
        assert 'id="err-credit_code"' in text and "校验码" in text
        assert await console.store.list_applications() == []


async def test_approval_creates_enterprise_prefix_and_admin(sqlite_url: str, tmp_path: Path
                                                            ) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        await admin.close()
        code = APPLICATION["credit_code"]
        enterprise = await console.store.get_enterprise(code)
        assert enterprise is not None and enterprise.industry == "appliance"
        prefixes = await console.store.list_prefixes(owner=code)
        assert [p.name for p in prefixes] == ["88.118.1"]
        record = await console.store.get_handle(prefix_handle("88.118.1"))
        assert record is not None and {v.type for v in record.values} == {"HS_ADMIN"}
        user = await console.store.get_user(APPLICATION["admin_username"])
        assert user is not None and user.role == "enterprise_admin" and user.enterprise == code
        application = (await console.store.list_applications())[0]
        assert application.state == "approved"
        assert [s["state"] for s in application.history] == ["pending", "approved"]
        actions = [e.action for e in await console.store.audit_entries(limit=1000)]
        assert "application.submit" in actions and "application.approved" in actions


async def test_register_through_the_template_form_then_suspension_refuses_writes(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        await admin.get("/console/portal/ids/new")
        missing = {k: v for k, v in APPLIANCE.items() if k != "model"}
        status, text, _ = await admin.post("/console/portal/ids/new", missing)
        assert status == 400 and 'id="err-model"' in text and "此项为必填项" in text
        status, text, location = await admin.post("/console/portal/ids/new", APPLIANCE)
        assert status == 303 and location == "/console/portal/id?h=88.118.1/TV-0001", text
        record = await console.store.get_handle("88.118.1/TV-0001")
        assert record is not None
        assert {"URL", "TRACE.TEMPLATE", "TRACE.MODEL"} <= {v.type for v in record.values}
        status, page = await admin.get("/console/portal/id", h="88.118.1/TV-0001")
        facts = page[page.index('id="facts"'):page.index("</dl>")]
        assert "<dt>型号</dt><dd>BCD-470WDPG</dd>" in facts
        assert "<dt>品类</dt><dd>电视机</dd>" in facts
        assert "<dt>额定功率 (W)</dt><dd>120</dd>" in facts  # a whole number stays whole
        entries = await console.store.audit_entries(handle="88.118.1/TV-0001")
        assert entries[-1].actor == "console:haiyue-admin"

        operator = console.visitor()
        await operator.login("operator")
        await operator.get("/console/ops/enterprises")
        status, _, _ = await operator.post(
            f"/console/ops/enterprises/{APPLICATION['credit_code']}/status",
            {"status": "suspended"})
        assert status == 303
        await operator.close()
        status, text = await admin.get("/console/portal/id/edit", h="88.118.1/TV-0001")
        assert status == 200
        status, text, _ = await admin.post("/console/portal/id/edit?h=88.118.1/TV-0001",
                                           APPLIANCE | {"model": "BCD-999"})
        await admin.close()
        assert status == 400 and "已被暂停" in text
        record = await console.store.get_handle("88.118.1/TV-0001")
        assert record is not None
        assert any(v.type == "TRACE.MODEL" and v.data == b"BCD-470WDPG" for v in record.values)


async def test_post_without_csrf_token_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        visitor = console.visitor()
        await visitor.get("/console/login")
        status, _, _ = await visitor.post("/console/login",
                                          {"username": "operator", "password": "x"},
                                          csrf=False)
        await visitor.close()
        assert status == 403
