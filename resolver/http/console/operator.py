"""The operator console: node health, enterprises (quota, suspend/resume, delegation),
the audit log with filters and chain verification, and the report to the upper node.

Reviewers may look (health, enterprises, audit) but only operators change
anything.  Every change goes through the same registry calls as the
``idnode enterprise``/``prefix`` commands and is audited under the operator's
name.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from aiohttp import web

from protocol.constants import RC_SUCCESS
from registry.bootstrap import delegate_prefix, enterprise_prefix
from registry.errors import StoreError
from registry.stats_report import METRIC_RESOLUTIONS, build_report
from resolver.core.redis_link import RedisLink
from resolver.core.site import build_site_info, site_info_value
from resolver.http.console import charts
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import Form, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import STAFF, allow

routes = web.RouteTableDef()
AUDIT_WINDOW = 2000
AUDIT_PAGE = 100
REPORT_HOURS = 24


async def _redis_state(link: RedisLink | None) -> str:
    if link is None:
        return _("not configured")
    client = link.client(socket_timeout=1.0)
    try:
        await asyncio.wait_for(client.ping(), 1.5)
        return _("reachable")
    except Exception as exc:  # any failure means "not usable right now"
        return _("unreachable: {reason}").format(reason=type(exc).__name__)
    finally:
        await client.aclose()


@routes.get("/ops", name="ops")
@allow(*STAFF)
async def health(request: web.Request) -> web.StreamResponse:
    """Requests per front end, latency percentiles, cache hit rate, errors, DB and Redis."""
    settings = settings_of(request)
    rows = []
    metrics = settings.metrics
    if metrics is not None:
        for frontend, codes in sorted(metrics.requests_by_frontend().items()):
            total = sum(codes.values())
            rows.append({"frontend": frontend, "total": total,
                         "errors": total - codes.get(RC_SUCCESS, 0),
                         "p50": metrics.latency_quantile(frontend, 0.5),
                         "p99": metrics.latency_quantile(frontend, 0.99)})
    cache = metrics.cache_counts() if metrics is not None else {}
    try:
        handles: int | str = await settings.store.count_handles()
        database = _("reachable")
    except Exception as exc:  # the page must show a broken database, not fail
        handles, database = "-", _("unreachable: {reason}").format(reason=type(exc).__name__)
    since = datetime.now(UTC) - timedelta(hours=REPORT_HOURS)
    per_prefix: dict[str, int] = {}
    per_hour: dict[str, int] = {}
    for row in await settings.store.read_counters(metric=METRIC_RESOLUTIONS, since=since):
        if row.prefix:
            per_prefix[row.prefix] = per_prefix.get(row.prefix, 0) + row.count
        else:
            key = row.period.strftime("%H")
            per_hour[key] = per_hour.get(key, 0) + row.count
    top = sorted(per_prefix.items(), key=lambda item: -item[1])[:10]
    return render(request, "ops.html", {
        "rows": rows, "cache": cache, "database": database, "handles": handles,
        "redis": await _redis_state(settings.redis), "top": top,
        "chart": charts.bar_chart(sorted(per_hour.items()),
                                  empty=_("No resolutions counted yet."),
                                  title=_("Resolutions per hour (last 24 h)")),
    })


@routes.get("/ops/enterprises", name="enterprises")
@allow(*STAFF)
async def enterprises(request: web.Request) -> web.StreamResponse:
    """Every enterprise with its prefixes, handle count, quota and state."""
    store = settings_of(request).store
    rows = []
    for info in await store.list_enterprises():
        prefixes = await store.list_prefixes(owner=info.code)
        count = sum([await store.count_handles(p.name) for p in prefixes])
        rows.append({"info": info, "prefixes": prefixes, "count": count})
    return render(request, "enterprises.html", {"rows": rows, "error": request.query.get("e")})


async def _enterprise(request: web.Request) -> str:
    code = request.match_info["code"]
    if await settings_of(request).store.get_enterprise(code) is None:
        raise web.HTTPNotFound(text="no such enterprise")
    return code


@routes.post("/ops/enterprises/{code}/status")
@allow("operator")
async def set_status(request: web.Request) -> web.StreamResponse:
    """Suspend or resume an enterprise."""
    code = await _enterprise(request)
    status = str((await posted(request)).get("status", ""))
    if status not in ("active", "suspended"):
        raise web.HTTPBadRequest(text="status must be active or suspended")
    await settings_of(request).store.set_enterprise_status(code, status, actor=actor_of(request))
    raise redirect("/console/ops/enterprises")


@routes.post("/ops/enterprises/{code}/quota")
@allow("operator")
async def set_quota(request: web.Request) -> web.StreamResponse:
    """Set or clear (empty) an enterprise's identifier quota."""
    code = await _enterprise(request)
    text = str((await posted(request)).get("quota", "")).strip()
    if text and not text.isdigit():
        raise redirect("/console/ops/enterprises?e=" + _("A quota is a whole number."))
    await settings_of(request).store.set_enterprise_quota(code, int(text) if text else None,
                                                          actor=actor_of(request))
    raise redirect("/console/ops/enterprises")


@routes.post("/ops/enterprises/{code}/delegate")
@allow("operator")
async def delegate(request: web.Request) -> web.StreamResponse:
    """Delegate the enterprise's prefix to its own Handle server (``host:port``)."""
    code = await _enterprise(request)
    settings = settings_of(request)
    form = Form(await posted(request))
    host, _sep, port = form.get("server").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise redirect("/console/ops/enterprises?e=" + _("Give the server as host:port."))
    site = site_info_value(build_site_info([(host, int(port))],
                                           description=f"enterprise {code}"))
    try:
        prefix = await enterprise_prefix(settings.store, code)
        await delegate_prefix(settings.store, prefix, site, node_prefix=settings.node_prefix,
                              owner=code, actor=actor_of(request))
    except StoreError as exc:
        raise redirect("/console/ops/enterprises?e=" + str(exc)) from None
    if settings.service.answers is not None:
        await settings.service.answers.invalidate([f"0.NA/{prefix}"])
    raise redirect("/console/ops/enterprises")


@routes.get("/ops/audit", name="audit")
@allow(*STAFF)
async def audit(request: web.Request) -> web.StreamResponse:
    """The newest audit entries, filtered by actor, action or handle."""
    store = settings_of(request).store
    actor, action = request.query.get("actor", ""), request.query.get("action", "")
    handle = request.query.get("handle", "").strip() or None
    entries = await store.audit_entries(handle=handle, limit=AUDIT_WINDOW, newest=True)
    shown = [e for e in reversed(entries)
             if actor.lower() in e.actor.lower() and action.lower() in e.action.lower()]
    report = await store.verify_audit() if request.query.get("verify") else None
    return render(request, "audit.html", {
        "entries": shown[:AUDIT_PAGE], "actor": actor, "action": action,
        "handle": handle or "", "report": report,
        "detail": lambda d: json.dumps(d, ensure_ascii=False, sort_keys=True),
    })


@routes.get("/ops/report", name="report")
@allow(*STAFF)
async def upper_report(request: web.Request) -> web.StreamResponse:
    """The statistics report sent to the upper node, for the last day."""
    settings = settings_of(request)
    end = datetime.now(UTC)
    report = await build_report(settings.store, settings.node_prefix,
                                end - timedelta(hours=REPORT_HOURS), end)
    return render(request, "report.html", {
        "report": report, "text": json.dumps(report, ensure_ascii=False, indent=2)})
