"""The online application of an enterprise for a prefix (anyone may apply).

The form asks for the enterprise's name, unified social credit code (check
character verified, :mod:`registry.uscc`), address, legal representative,
contact, industry, an optional requested prefix and the user name and
password of its future admin account (hashed now, the account is created on
approval).  The application then waits for a reviewer.
"""

from __future__ import annotations

from aiohttp import web

from registry.applications import ApplicationForm
from registry.bootstrap import check_enterprise_prefix
from registry.errors import InvalidArgument
from registry.models import INDUSTRIES
from registry.passwords import MIN_LENGTH, hash_off_loop
from registry.uscc import credit_code_problem, normalise_credit_code
from resolver.http.console.context import actor_of, render, settings_of
from resolver.http.console.forms import EMAIL, PHONE, USERNAME, Form, posted
from resolver.http.console.i18n import N_
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import public

routes = web.RouteTableDef()

INDUSTRY_LABELS = {"appliance": N_("Home appliances"), "machinery": N_("Machinery"),
                   "rubber": N_("Rubber"), "other": N_("Other")}
CREDIT_CODE_MESSAGES = {
    "length": N_("A unified social credit code has 18 characters."),
    "character": N_("Only digits and capital letters except I, O, S, V, Z are used."),
    "division": N_("Characters 3 to 8 are the administrative division code (digits)."),
    "check": N_("The check character (the last one) does not match: please check the code."),
}
FIELDS = ("name", "credit_code", "address", "legal_representative", "contact_name",
          "contact_phone", "contact_email", "industry", "requested_prefix", "admin_username")


def validate(form: Form, node_prefix: str) -> None:
    """Check an application form, recording a message per wrong field."""
    form.values["credit_code"] = normalise_credit_code(form.get("credit_code"))
    form.values["admin_username"] = form.get("admin_username").lower()
    form.require("name", "credit_code", "address", "legal_representative", "contact_name",
                 "contact_phone", "contact_email", "industry", "admin_username", "password")
    for name, most in (("name", 255), ("address", 255), ("legal_representative", 64),
                       ("contact_name", 64), ("contact_email", 255)):
        form.check_length(name, most)
    problem = credit_code_problem(form.get("credit_code")) if form.get("credit_code") else None
    if problem is not None:
        form.error("credit_code", _(CREDIT_CODE_MESSAGES[problem]))
    form.check("contact_phone", lambda v: PHONE.match(v) is not None,
               _("Enter a phone number, digits only (e.g. 0532-88888888)."))
    form.check("contact_email", lambda v: EMAIL.match(v) is not None,
               _("Enter an e-mail address like name@example.com."))
    form.check("industry", lambda v: v in INDUSTRIES, _("Choose an industry."))
    form.check("admin_username", lambda v: USERNAME.match(v) is not None,
               _("3-32 lower-case letters, digits, '.', '_' or '-'."))
    form.check("password", lambda v: len(v) >= MIN_LENGTH,
               _("At least {count} characters.").format(count=MIN_LENGTH))
    if form.get("password") and form.get("password") != form.get("password2"):
        form.error("password2", _("The two passwords differ."))

    def under_node(prefix: str) -> bool:
        try:
            check_enterprise_prefix(prefix, node_prefix)
        except InvalidArgument:
            return False
        return prefix.replace(".", "").isdigit()

    form.check("requested_prefix", under_node,
               _("A prefix under {prefix}, such as {prefix}.20.").format(prefix=node_prefix))


def _page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    return render(request, "apply.html", {"form": form, "industries": INDUSTRY_LABELS,
                                          "node_prefix": settings_of(request).node_prefix},
                  status=status)


@routes.get("/apply", name="apply")
@public
async def apply_form(request: web.Request) -> web.StreamResponse:
    """The empty application form."""
    return _page(request, Form())


@routes.post("/apply")
@public
async def apply_submit(request: web.Request) -> web.StreamResponse:
    """Check and store an application; show its number."""
    settings = settings_of(request)
    form = Form(await posted(request))
    validate(form, settings.node_prefix)
    if form.ok and await settings.store.get_user(form.get("admin_username")) is not None:
        form.error("admin_username", _("This user name is taken."))
    if not form.ok:
        return _page(request, form, status=400)
    application = await settings.store.submit_application(ApplicationForm(
        **{name: form.get(name) for name in FIELDS if name != "requested_prefix"},
        requested_prefix=form.get("requested_prefix") or None,
        admin_password_hash=await hash_off_loop(form.get("password")),
    ), actor=actor_of(request))
    return render(request, "applied.html", {"application": application})
