"""Message catalogs of the console: zh-CN by default, English on request.

Source strings are English; ``locale/zh_CN/LC_MESSAGES/messages.po`` holds
their Chinese translations and its compiled ``messages.mo`` is committed next
to it (a test fails when the ``.mo`` is older than the ``.po``).  The catalog
of the request is kept in a context variable, so ``gettext`` in Python code
and ``{{ _("...") }}`` / ``{% trans %}`` in templates answer in the language
of the request being served.  Updating the catalogs::

    pybabel extract -F resolver/http/console/babel.cfg -k N_ \\
        -o resolver/http/console/locale/messages.pot resolver/http/console
    pybabel update -i resolver/http/console/locale/messages.pot \\
        -d resolver/http/console/locale -l zh_CN
    # translate the new entries in messages.po, then
    pybabel compile -d resolver/http/console/locale
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.support import Translations

LOCALE_DIR = Path(__file__).with_name("locale")
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "idnode_lang"
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}

_current: ContextVar[str] = ContextVar("console_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``locale`` (English is the source language: no catalog)."""
    if locale == "en":
        return _gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def use_locale(locale: str) -> None:
    """Answer the rest of this request (task) in ``locale``."""
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current_locale() -> str:
    """The locale of the request being served."""
    return _current.get()


def gettext(message: str) -> str:
    """``message`` in the language of the current request."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message, translated."""
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def pick_locale(query_lang: str | None, cookie_lang: str | None) -> str:
    """The locale a request asks for: ``?lang=``, then the cookie, else zh-CN."""
    for wanted in (query_lang, cookie_lang):
        if wanted in LOCALES:
            return wanted
    return DEFAULT_LOCALE
