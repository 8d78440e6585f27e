"""The product page and the not-found page as HTML: Jinja2 with autoescape and the ``pages``
message catalog.

Source strings are English; ``locale/zh_CN/LC_MESSAGES/pages.po`` holds the
Chinese, compiled to the committed ``pages.mo`` (a test fails when it is older
than the ``.po``).  The language is the console's choice (``?lang=``, then
its cookie, else zh-CN: :func:`resolver.http.console.i18n.pick_locale`).
Updating the catalog::

    pybabel extract -F resolver/http/product/babel.cfg \\
        -o resolver/http/product/locale/pages.pot resolver/http/product
    pybabel update -D pages -i resolver/http/product/locale/pages.pot \\
        -d resolver/http/product/locale -l zh_CN
    pybabel compile -D pages -d resolver/http/product/locale
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

import jinja2
from babel.support import Translations

from resolver.http.console.i18n import HTML_LANG
from resolver.http.product.verdict import _, signature_class, signature_text
from resolver.http.product.view import ProductView

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "pages"


EVENT_NAMES = {
    "produced": _("Produced"), "inspected": _("Inspected"), "shipped": _("Shipped"),
    "sold": _("Sold"), "installed": _("Installed"), "repaired": _("Repaired"),
    "recycled": _("Recycled"), "recalled": _("Recalled"),
}
RELATION_NAMES = {"component": _("part"), "batch": _("material batch")}


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled ``pages`` catalog of ``locale`` (English needs none)."""
    if locale == "en":
        return gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)


@cache
def environment(locale: str) -> jinja2.Environment:
    """The template environment of one language (autoescape on)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("resolver.http.product", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_product(view: ProductView, locale: str) -> str:
    """The page of ``view`` in ``locale`` (``zh_CN`` or ``en``)."""
    tr = translations(locale).gettext
    status = view.signature
    return environment(locale).get_template("product.html").render(
        view=view, html_lang=HTML_LANG.get(locale, "zh-CN"),
        signature_text=signature_text(tr, status, view.signer),
        signature_class=signature_class(status),
        event_names={k: tr(v) for k, v in EVENT_NAMES.items()},
        relation_names={k: tr(v) for k, v in RELATION_NAMES.items()},
    )


def render_not_found(handle: str, locale: str) -> str:
    """The page for a handle that is not registered here, in ``locale``."""
    return environment(locale).get_template("not_found.html").render(
        handle=handle, html_lang=HTML_LANG.get(locale, "zh-CN"))
