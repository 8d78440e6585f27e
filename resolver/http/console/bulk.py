"""Bulk upload of identifiers (CSV, JSON Lines, Excel) running in the background.

The file is saved under the node's upload folder, checked (every handle must
be under one of the enterprise's prefixes, or nothing is imported), an
``.xlsx`` sheet is converted to the importer's CSV columns
(``handle,index,type,data[,ttl]``, :mod:`registry.importer`), and
:func:`registry.importer.import_file` runs as a task of the serving process
with a progress callback.  Progress is kept in ``job.json`` beside the file
(shared by the worker processes of the host), so the progress page, which
reloads itself every second without script (``<meta http-equiv=refresh>``),
can be answered by any of them.  The rejected-rows report is the importer's
CSV, downloadable from the page.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from registry.importer import detect_format, import_file, read_csv, read_jsonl
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import Upload, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.portal import Scope, scope
from resolver.http.console.security import ENTERPRISE, allow

log = logging.getLogger("idnode.console.bulk")
routes = web.RouteTableDef()
BATCH_ROWS = 100
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".xlsx": "xlsx"}
_TASKS: set[asyncio.Task[None]] = set()


def xlsx_to_csv(source: Path, target: Path) -> None:
    """Write the first sheet of ``source`` as CSV (first row = the importer's header)."""
    from openpyxl import load_workbook  # loaded when an Excel file comes

    book = load_workbook(source, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for row in sheet.iter_rows(values_only=True):
                if any(cell is not None for cell in row):
                    writer.writerow(["" if cell is None else cell for cell in row])
    finally:
        book.close()


def foreign_rows(path: Path, fmt: str, owned: Scope, limit: int = 5) -> list[str]:
    """The first rows naming a handle outside the enterprise's prefixes (``row: handle``)."""
    found: list[str] = []
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as text:
            items = list(read_csv(text))
    else:
        with path.open("rb") as raw:
            items = list(read_jsonl(raw))
    for item in items:
        if item.error is None and not owned.owns(item.handle):
            found.append(f"{item.row}: {item.handle}")
            if len(found) >= limit:
                break
    return found


def _job_dir(request: web.Request, job: str) -> Path:
    if not job.isalnum():
        raise web.HTTPNotFound()
    return settings_of(request).uploads / job


def read_job(folder: Path) -> dict[str, Any]:
    """The state of an upload job."""
    try:
        return dict(json.loads((folder / "job.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        raise web.HTTPNotFound(text="no such upload") from None


def _write_job(folder: Path, state: dict[str, Any]) -> None:
    temporary = folder / "job.json.tmp"
    temporary.write_text(json.dumps(state), encoding="utf-8")
    temporary.replace(folder / "job.json")


def _form(request: web.Request, owned: Scope, error: str | None, status: int = 200
          ) -> web.Response:
    example = owned.names[0] if owned.names else "88.118.8"
    return render(request, "bulk.html", {"error": error, "prefix": example}, status=status)


@routes.get("/portal/bulk", name="bulk")
@allow(*ENTERPRISE)
async def bulk_form(request: web.Request) -> web.StreamResponse:
    """The upload form with the accepted formats."""
    return _form(request, await scope(request), None)


@routes.post("/portal/bulk")
@allow(*ENTERPRISE)
async def bulk_upload(request: web.Request) -> web.StreamResponse:
    """Save, check and start importing an uploaded file."""
    owned = await scope(request)
    settings = settings_of(request)
    upload = (await posted(request)).get("file")
    if not isinstance(upload, Upload) or not upload.filename:
        return _form(request, owned, _("Choose a file to upload."), 400)
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        return _form(request, owned, _("Upload a .csv, .jsonl or .xlsx file."), 400)
    job = secrets.token_hex(8)
    folder = settings.uploads / job
    folder.mkdir(parents=True)
    source = folder / f"upload{suffix}"
    source.write_bytes(upload.content)
    if SUFFIXES[suffix] == "xlsx":
        converted = folder / "upload.csv"
        try:
            await asyncio.to_thread(xlsx_to_csv, source, converted)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            reason = _("The Excel file cannot be read: {reason}").format(reason=exc)
            return _form(request, owned, reason, 400)
        source = converted
    fmt = detect_format(source)
    foreign = await asyncio.to_thread(foreign_rows, source, fmt, owned)
    if foreign:
        return _form(request, owned, _(
            "Rows outside your prefixes ({prefixes}): {rows}. Nothing was imported."
        ).format(prefixes=", ".join(owned.names), rows="; ".join(foreign)), 400)
    state = {"enterprise": owned.enterprise.code, "file": upload.filename, "done": 0,
             "total": 0, "status": "running", "summary": None}
    _write_job(folder, state)
    task = asyncio.create_task(_run(settings.store, source, folder, state, actor_of(request)))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    raise redirect(f"/console/portal/bulk/{job}")


async def _run(store: Any, source: Path, folder: Path, state: dict[str, Any], actor: str
               ) -> None:
    def progress(done: int, total: int) -> None:
        state.update(done=done, total=total)
        _write_job(folder, state)

    try:
        summary = await import_file(store, source, report_path=folder / "rejected.csv",
                                    batch_rows=BATCH_ROWS, actor=actor, on_progress=progress)
        state.update(status="done", summary=summary.as_dict(), done=summary.rows_done,
                     total=summary.rows)
    except Exception as exc:
        log.exception("console bulk import of %s failed", source)
        state.update(status="failed", error=str(exc))
    _write_job(folder, state)


@routes.get("/portal/bulk/{job}", name="bulk_job")
@allow(*ENTERPRISE)
async def bulk_progress(request: web.Request) -> web.StreamResponse:
    """The progress of one upload (reloads itself until done)."""
    owned = await scope(request)
    job = request.match_info["job"]
    state = read_job(_job_dir(request, job))
    if state["enterprise"] != owned.enterprise.code:
        raise web.HTTPNotFound(text="no such upload")
    percent = int(100 * state["done"] / state["total"]) if state["total"] else 0
    return render(request, "bulk_job.html", {"job": job, "state": state, "percent": percent,
                                             "running": state["status"] == "running"})


@routes.get("/portal/bulk/{job}/rejected.csv", name="bulk_rejected")
@allow(*ENTERPRISE)
async def bulk_rejected(request: web.Request) -> web.StreamResponse:
    """The rejected-rows report (``row,handle,reason``)."""
    owned = await scope(request)
    folder = _job_dir(request, request.match_info["job"])
    if read_job(folder)["enterprise"] != owned.enterprise.code:
        raise web.HTTPNotFound(text="no such upload")
    report = folder / "rejected.csv"
    body = report.read_bytes() if report.exists() else b"row,handle,reason\r\n"
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="rejected-{request.match_info["job"]}.csv"'})

