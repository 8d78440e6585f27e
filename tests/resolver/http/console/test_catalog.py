"""The console's message catalogs: every message translated, the committed .mo matches the .po."""

from __future__ import annotations

import io

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from resolver.http.console.i18n import LOCALE_DIR, gettext, use_locale

PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
CONSOLE = LOCALE_DIR.parent


def _po() -> dict[str, str]:
    with PO.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


def test_every_message_in_the_code_has_a_chinese_translation() -> None:
    mapping = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    used = {message for _f, _l, message, *_rest in extract_from_dir(
        str(CONSOLE), method_map=mapping, keywords={"_": None, "N_": None, "gettext": None})}
    translated = {k for k, v in _po().items() if v}
    assert used - translated == set()


def test_committed_mo_is_compiled_from_the_po() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)
    fresh = read_mo(compiled)
    assert {m.id: m.string for m in committed if m.id} == {m.id: m.string for m in fresh if m.id}


def test_gettext_follows_the_request_locale() -> None:
    use_locale("zh_CN")
    assert gettext("Log in") == "登录"
    use_locale("en")
    assert gettext("Log in") == "Log in"
