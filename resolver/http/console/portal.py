"""The enterprise portal: its identifiers (form from the industry template), stats, credentials.

Every handler works only on the logged-in user's own enterprise
(:func:`scope`): a handle in the URL that is not under one of its prefixes
answers 404, whatever its owner, so another enterprise's data is never shown
or touched.  Enterprise admins may also issue or rotate the enterprise's
Handle credential (a secret key shown once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from protocol.values import HandleValue
from registry.bootstrap import issue_secret_key
from registry.errors import EnterpriseSuspended, StoreError
from registry.names import name_key, prefix_handle, split_handle
from registry.records import EnterpriseInfo, HandleRecord, PrefixInfo
from registry.stats_report import METRIC_RESOLUTIONS
from registry.templates.loader import find_template, load_builtin_templates
from registry.templates.mapping import TYPE_TEMPLATE, values_to_document
from registry.templates.model import Template
from registry.tiers import TIERS, tiers_of
from resolver.http.console import charts
from resolver.http.console.context import actor_of, redirect, render, settings_of, user_of
from resolver.http.console.forms import Form, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import ENTERPRISE, allow
from resolver.http.console.template_form import (
    document_as_form,
    document_facts,
    form_fields,
    parse_document,
    template_title,
)
from resolver.http.console.writes import delete_record, put_record
from resolver.http.qr import page_url

routes = web.RouteTableDef()
PAGE_SIZE = 50
SUFFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
URL_INDEX = 1
STATS_DAYS = 14


@dataclass(frozen=True, slots=True)
class Scope:
    """The logged-in user's enterprise and the prefixes it owns."""

    enterprise: EnterpriseInfo
    prefixes: list[PrefixInfo]

    @property
    def names(self) -> list[str]:
        """The prefix names."""
        return [p.name for p in self.prefixes]

    def owns(self, handle: str) -> bool:
        """Whether ``handle`` is under one of the enterprise's prefixes."""
        try:
            prefix, _suffix = split_handle(handle)
        except StoreError:
            return False
        return name_key(prefix) in {name_key(p) for p in self.names}


async def scope(request: web.Request) -> Scope:
    """The enterprise the logged-in user belongs to (403 without one)."""
    user = user_of(request)
    store = settings_of(request).store
    enterprise = await store.get_enterprise(user.enterprise) if user.enterprise else None
    if enterprise is None:
        raise web.HTTPForbidden(text="no enterprise")
    return Scope(enterprise, await store.list_prefixes(owner=enterprise.code))


def templates_for(industry: str) -> list[Template]:
    """The templates an enterprise of ``industry`` registers with (its own first)."""
    found = list(load_builtin_templates().values())
    return sorted(found, key=lambda t: (t.industry != industry, t.industry == "shared", t.id))


def handle_of(request: web.Request, owned: Scope) -> str:
    """The handle named in the query, if the enterprise owns it (else 404)."""
    handle = request.query.get("h", "")
    if not owned.owns(handle):
        raise web.HTTPNotFound(text="no such identifier of your enterprise")
    return handle


async def owned_record(request: web.Request) -> tuple[Scope, HandleRecord]:
    """The enterprise's scope and the identifier named in the query: one it owns and
    that exists, else 404."""
    owned = await scope(request)
    record = await settings_of(request).store.get_handle(handle_of(request, owned))
    if record is None:
        raise web.HTTPNotFound(text="no such identifier")
    return owned, record


def write_error(exc: StoreError) -> str:
    """A refused write said in the user's language."""
    if isinstance(exc, EnterpriseSuspended):
        return _("Your enterprise is suspended: identifiers cannot be changed.")
    return _("The registry refused the change: {reason}").format(reason=str(exc))


#: how many of the most resolved identifiers the portal lists
TOP_IDENTIFIERS = 10


@routes.get("/portal", name="portal")
@allow(*ENTERPRISE)
async def dashboard(request: web.Request) -> web.StreamResponse:
    """Counts, resolutions per day and the enterprise's state."""
    owned = await scope(request)
    store = settings_of(request).store
    counts = {p.name: await store.count_handles(p.name) for p in owned.prefixes}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=STATS_DAYS - 1)
    per_day: dict[str, int] = {(since + timedelta(days=d)).strftime("%m-%d"): 0
                               for d in range(STATS_DAYS)}
    for prefix in owned.names:
        for row in await store.read_counters(metric=METRIC_RESOLUTIONS, prefix=prefix,
                                             since=since):
            day = row.period.strftime("%m-%d")
            per_day[day] = per_day.get(day, 0) + row.count
    top = await store.top_handles(owned.names, since=since, limit=TOP_IDENTIFIERS)
    return render(request, "portal.html", {
        "enterprise": owned.enterprise, "counts": counts, "total": sum(counts.values()),
        "top": top,
        "chart": charts.bar_chart(list(per_day.items()), empty=_("No resolutions counted yet."),
                                  title=_("Resolutions per day")),
        "resolutions": sum(per_day.values()),
    })


@routes.get("/portal/ids", name="identifiers")
@allow(*ENTERPRISE)
async def identifiers(request: web.Request) -> web.StreamResponse:
    """The enterprise's identifiers, searched and paged."""
    owned = await scope(request)
    text = request.query.get("q", "").strip()
    try:
        page = max(int(request.query.get("page", "0")), 0)
    except ValueError:
        page = 0
    names, total = await settings_of(request).store.search_handles(
        owned.names, text, page=page, page_size=PAGE_SIZE) if owned.names else ([], 0)
    return render(request, "identifiers.html", {
        "names": [n for n in names if "/" in n and not n.startswith("0.NA/")], "q": text,
        "page": page, "total": total, "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "enterprise": owned.enterprise,
    })


def _values(template: Template, document: dict[str, object], url: str) -> list[HandleValue]:
    values = template.to_values(document)
    if url:
        values.insert(0, HandleValue(index=URL_INDEX, type="URL", data=url.encode()))
    return values


def _form_page(request: web.Request, owned: Scope, template: Template, form: Form, *,
               handle: str | None, version: int | None, status: int = 200) -> web.Response:
    return render(request, "identifier_form.html", {
        "template": template, "templates": templates_for(owned.enterprise.industry),
        "fields": form_fields(template), "form": form, "handle": handle, "version": version,
        "prefixes": owned.names, "enterprise": owned.enterprise, "title": template_title,
    }, status=status)


def _template(name: str, industry: str) -> Template:
    try:
        return find_template(load_builtin_templates(), name) if name else templates_for(
            industry)[0]
    except StoreError:
        raise web.HTTPNotFound(text="no such template") from None


@routes.get("/portal/ids/new", name="new_identifier")
@allow(*ENTERPRISE)
async def new_identifier(request: web.Request) -> web.StreamResponse:
    """An empty form of the chosen (or the industry's) template."""
    owned = await scope(request)
    template = _template(request.query.get("template", ""), owned.enterprise.industry)
    return _form_page(request, owned, template, Form(), handle=None, version=None)


def _check_url(form: Form) -> None:
    form.check("url", lambda v: v.startswith(("https://", "http://")) and " " not in v,
               _("A web address starting with https:// or http://."))


@routes.post("/portal/ids/new")
@allow(*ENTERPRISE)
async def create_identifier(request: web.Request) -> web.StreamResponse:
    """Register one identifier from the form."""
    owned = await scope(request)
    form = Form(await posted(request))
    template = _template(form.get("template"), owned.enterprise.industry)
    prefix = form.get("prefix") or (owned.names[0] if owned.names else "")
    if prefix not in owned.names:
        form.error("prefix", _("Choose one of your prefixes."))
    form.require("suffix")
    form.check("suffix", lambda v: set(v) <= SUFFIX_CHARS and len(v) <= 128,
               _("Letters, digits, '.', '_' and '-' only (at most 128)."))
    _check_url(form)
    document = parse_document(template, form)
    handle = f"{prefix}/{form.get('suffix')}"
    if form.ok:
        try:
            await put_record(settings_of(request).service, handle,
                             _values(template, document, form.get("url")),
                             actor=actor_of(request), create=True)
        except StoreError as exc:
            form.error("_form", write_error(exc))
    if not form.ok:
        return _form_page(request, owned, template, form, handle=None, version=None, status=400)
    raise redirect(f"/console/portal/id?h={handle}")


@routes.get("/portal/id", name="identifier")
@allow(*ENTERPRISE)
async def show_identifier(request: web.Request) -> web.StreamResponse:
    """One identifier: its values and what can be done with it."""
    owned, record = await owned_record(request)
    facts: list[tuple[str, str]] = []
    title = ""
    if any(v.type == TYPE_TEMPLATE for v in record.values):
        try:
            template_id, document = values_to_document(record.values)
            template = _template(template_id, owned.enterprise.industry)
        except (StoreError, web.HTTPNotFound):
            template = None
        if template is not None:
            facts, title = document_facts(template, document), template_title(template)
    tiers = tiers_of(record.values)
    return render(request, "identifier.html", {
        "handle": record.name, "tiers": TIERS,
        "values": [(v.index, v.type, _shown(v), tiers.get(v.index)) for v in record.values],
        "page_url": page_url(settings_of(request).public_url, record.name),
        "editable": bool(facts), "facts": facts, "title": title,
    })


def _shown(value: HandleValue) -> str:
    try:
        return value.data.decode("utf-8")
    except UnicodeDecodeError:
        return value.data.hex()


def _editable(owned: Scope, record: HandleRecord) -> tuple[Template, dict[str, object], str, int]:
    try:
        template_id, document = values_to_document(record.values)
    except StoreError:
        raise web.HTTPNotFound(text="this identifier was not made from a template") from None
    url = next((_shown(v) for v in record.values if v.type == "URL"), "")
    return _template(template_id, owned.enterprise.industry), document, url, record.version


@routes.get("/portal/id/edit", name="edit_identifier")
@allow(*ENTERPRISE)
async def edit_identifier(request: web.Request) -> web.StreamResponse:
    """The template form filled with the identifier's data."""
    owned, record = await owned_record(request)
    template, document, url, version = _editable(owned, record)
    form = Form(document_as_form(document) | {"url": url})
    return _form_page(request, owned, template, form, handle=record.name, version=version)


@routes.post("/portal/id/edit")
@allow(*ENTERPRISE)
async def update_identifier(request: web.Request) -> web.StreamResponse:
    """Store the edited data (refused if someone changed it meanwhile)."""
    owned, record = await owned_record(request)
    handle = record.name
    template, _document, _url, version = _editable(owned, record)
    form = Form(await posted(request))
    _check_url(form)
    document = parse_document(template, form)
    expected = int(form.get("version") or version)
    if form.ok:
        try:
            await put_record(settings_of(request).service, handle,
                             _values(template, document, form.get("url")),
                             actor=actor_of(request), expected_version=expected, create=False)
        except StoreError as exc:
            form.error("_form", write_error(exc))
    if not form.ok:
        return _form_page(request, owned, template, form, handle=handle, version=expected,
                          status=400)
    raise redirect(f"/console/portal/id?h={handle}")


@routes.get("/portal/id/delete", name="delete_identifier")
@allow(*ENTERPRISE)
async def confirm_delete(request: web.Request) -> web.StreamResponse:
    """Ask before deleting."""
    _owned, record = await owned_record(request)
    return render(request, "delete.html", {"handle": record.name, "version": record.version,
                                           "error": None})


@routes.post("/portal/id/delete")
@allow(*ENTERPRISE)
async def delete_identifier(request: web.Request) -> web.StreamResponse:
    """Delete after confirmation."""
    owned = await scope(request)
    handle = handle_of(request, owned)
    form = Form(await posted(request))
    try:
        await delete_record(settings_of(request).service, handle, actor=actor_of(request),
                            expected_version=int(form.get("version") or 0) or None)
    except StoreError as exc:
        return render(request, "delete.html", {"handle": handle, "version": form.get("version"),
                                               "error": write_error(exc)}, status=409)
    raise redirect("/console/portal/ids")


@routes.get("/portal/credentials", name="credentials")
@allow("enterprise_admin")
async def credentials(request: web.Request) -> web.StreamResponse:
    """The enterprise's Handle credentials (admin handle, index, kind, date)."""
    owned = await scope(request)
    found = await settings_of(request).store.list_credentials(enterprise=owned.enterprise.code)
    return render(request, "credentials.html", {"credentials": found, "secret": None,
                                                "admin": prefix_handle(owned.names[0])
                                                if owned.names else ""})


@routes.post("/portal/credentials")
@allow("enterprise_admin")
async def issue_credential(request: web.Request) -> web.StreamResponse:
    """Issue (or rotate) the secret key of the enterprise admin; shown once."""
    owned = await scope(request)
    if not owned.names:
        raise web.HTTPConflict(text="your enterprise has no prefix")
    store = settings_of(request).store
    secret, issued = await issue_secret_key(store, owned.enterprise.code, owned.names[0],
                                            actor=actor_of(request),
                                            node_prefix=settings_of(request).node_prefix)
    service = settings_of(request).service
    if service.answers is not None:
        await service.answers.invalidate([issued.admin_handle])
    found = await store.list_credentials(enterprise=owned.enterprise.code)
    return render(request, "credentials.html", {"credentials": found, "secret": secret,
                                                "admin": issued.admin_handle,
                                                "issued": issued})
