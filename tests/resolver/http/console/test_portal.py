"""The enterprise portal: Excel upload with its rejected rows, foreign rows, credentials,
deletion after confirmation, QR images."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from openpyxl import Workbook

from protocol.constants import TYPE_HS_SECKEY
from registry.names import prefix_handle
from tests.resolver.http.console.harness import APPLIANCE, Visitor, console_node, onboard


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _upload(admin: Visitor, name: str, content: bytes) -> tuple[int, str, str]:
    await admin.get("/console/portal/bulk")
    form = aiohttp.FormData()
    form.add_field("csrf_token", admin.csrf)
    form.add_field("file", content, filename=name)
    return await admin.post("/console/portal/bulk", form)


async def _finished(admin: Visitor, location: str) -> str:
    for _ in range(600):
        status, text = await admin.get(location)
        assert status == 200
        if 'id="import-done"' in text or 'id="import-failed"' in text:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{location} never finished")


async def test_excel_upload_imports_and_reports_rejected_rows(sqlite_url: str, tmp_path: Path
                                                              ) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        content = _xlsx([["handle", "index", "type", "data"],
                         ["88.118.1/XL-1", 1, "URL", "https://example.com/1"],
                         ["88.118.1/XL-2", "x", "URL", "https://example.com/2"],
                         ["88.118.1/XL-3", 1, "URL", "https://example.com/3"]])
        status, text, location = await _upload(admin, "products.xlsx", content)
        assert status == 303, text
        page = await _finished(admin, location)
        assert 'id="import-done"' in page and 'value="100"' in page
        status, report = await admin.get(location + "/rejected.csv")
        await admin.close()
        assert status == 200
        lines = report.strip().splitlines()
        assert lines[0] == "row,handle,reason" and len(lines) == 2 and "XL-2" in lines[1]
        for name, present in (("XL-1", True), ("XL-2", False), ("XL-3", True)):
            assert (await console.store.get_handle(f"88.118.1/{name}") is not None) is present


async def test_rows_of_another_prefix_refuse_the_whole_file(sqlite_url: str, tmp_path: Path
                                                            ) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        _status, form_page = await admin.get("/console/portal/bulk")
        assert "88.118.1/TV-0001,1,URL" in form_page  # the example uses its own prefix
        csv = (b"handle,index,type,data\n88.118.1/OK-1,1,URL,https://e.com/1\n"
               b"88.118.9/THEIRS,1,URL,https://e.com/2\n")
        status, text, _ = await _upload(admin, "mixed.csv", csv)
        await admin.close()
        assert status == 400 and "88.118.9/THEIRS" in text
        assert await console.store.get_handle("88.118.1/OK-1") is None


async def test_credentials_are_issued_once_and_rotate(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        await admin.get("/console/portal/credentials")
        status, first, _ = await admin.post("/console/portal/credentials", {})
        await admin.get("/console/portal/credentials")
        status, second, _ = await admin.post("/console/portal/credentials", {})
        _status, later = await admin.get("/console/portal/credentials")
        await admin.close()
        assert status == 200 and 'id="secret"' in first and 'id="secret"' in second
        assert 'id="secret"' not in later
        record = await console.store.get_handle(prefix_handle("88.118.1"))
        assert record is not None
        secret = [v.data for v in record.values if v.type == TYPE_HS_SECKEY]
        assert len(secret) == 1 and secret[0].decode() in second
        assert secret[0].decode() not in first
        valid = await console.store.list_credentials(enterprise="91350100M000100Y43")
        assert len(valid) == 1


async def test_delete_needs_the_confirmation_post_and_qr_images_are_served(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        await admin.get("/console/portal/ids/new")
        await admin.post("/console/portal/ids/new", APPLIANCE)
        handle = "88.118.1/TV-0001"
        async with admin.session.get(f"{console.url}/console/portal/qr",
                                     params={"h": handle, "fmt": "png"}) as response:
            assert response.content_type == "image/png"
            assert (await response.read()).startswith(b"\x89PNG")
        status, page = await admin.get("/console/portal/id/delete", h=handle)
        assert status == 200 and 'id="confirm-delete"' in page
        assert await console.store.get_handle(handle) is not None  # asking deletes nothing
        status, _, location = await admin.post(f"/console/portal/id/delete?h={handle}",
                                               {"version": "1"})
        await admin.close()
        assert status == 303 and location == "/console/portal/ids"
        assert await console.store.get_handle(handle) is None


async def test_an_enterprise_admin_adds_a_user_who_can_log_in_until_disabled(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        await admin.get("/console/portal/users")
        status, text, _ = await admin.post("/console/portal/users", {
            "username": "Worker1", "password": "short", "role": "enterprise_user"})
        assert status == 400 and 'id="err-password"' in text
        status, _, _ = await admin.post("/console/portal/users", {
            "username": "worker1", "password": "long-enough-pass", "role": "enterprise_user"})
        assert status == 303
        worker_user = await console.store.get_user("worker1")
        assert worker_user is not None and worker_user.enterprise == "91350100M000100Y43"
        worker = console.visitor()
        await worker.login("worker1", "long-enough-pass")
        assert (await worker.get("/console/portal/ids"))[0] == 200
        assert (await worker.get("/console/portal/users"))[0] == 403  # admins only
        await admin.get("/console/portal/users")
        status, _, _ = await admin.post(f"/console/portal/users/{worker_user.id}/disabled",
                                        {"disabled": "1"})
        assert status == 303
        status, _ = await worker.get("/console/portal/ids")
        await worker.close()
        await admin.close()
        assert status == 303  # its session ended: sent to the login form


async def test_the_overview_lists_the_most_resolved_identifiers(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        status, page = await admin.get("/console/portal")
        assert status == 200 and '<p id="top">' in page    # nothing counted yet
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        await console.store.bump_top_handles([
            (today, "88.118.1", "88.118.1/TV-0002", 7),
            (today, "88.118.1", "88.118.1/TV-0001", 9),
            (today, "88.118.9", "88.118.9/OTHERS-1", 99),     # another enterprise's prefix
        ])
        status, page = await admin.get("/console/portal")
        await admin.close()
        top = page.split('<ol id="top">')[1].split("</ol>")[0]
        assert top.index("88.118.1/TV-0001") < top.index("88.118.1/TV-0002")
        assert "— 9" in top and "OTHERS" not in page
