"""Server-side form checks with messages next to the field.

A :class:`Form` wraps the posted data; each ``require``/``check`` call records
one translated message per field, which the templates show under the field
(``form.errors[name]``).  Values are kept so a refused form comes back filled.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any

from aiohttp import hdrs, web

from resolver.http.console.i18n import gettext as _

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")


class Form:
    """Posted fields, their values as typed and the problems found."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, str] = {
            k: v.strip() for k, v in (data or {}).items() if isinstance(v, str)
        }
        self.errors: dict[str, str] = {}

    def get(self, name: str) -> str:
        """The value of ``name`` as typed (trimmed), or ``""``."""
        return self.values.get(name, "")

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.errors

    def error(self, name: str, message: str) -> None:
        """Record ``message`` for ``name`` (the first one found stays)."""
        self.errors.setdefault(name, message)

    def require(self, *names: str) -> None:
        """Every one of ``names`` must be filled in."""
        for name in names:
            if not self.get(name):
                self.error(name, _("This field is required."))

    def check(self, name: str, test: Callable[[str], bool], message: str) -> None:
        """If ``name`` is filled in, ``test`` must accept it, else ``message``."""
        value = self.get(name)
        if value and name not in self.errors and not test(value):
            self.error(name, message)

    def check_length(self, name: str, most: int) -> None:
        """At most ``most`` characters."""
        self.check(name, lambda v: len(v) <= most,
                   _("At most {count} characters.").format(count=most))


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart form."""

    filename: str
    content: bytes


POSTED = web.RequestKey("console_posted", dict)


async def posted(request: web.Request) -> dict[str, str | Upload]:
    """The fields of a POSTed form (urlencoded or multipart), parsed once per request.

    The HTTP guard reads every body up front (under its deadline), after which
    aiohttp cannot stream a multipart body again; the multipart form is then
    parsed from the kept bytes with the standard library's MIME parser.
    """
    if POSTED in request:
        return request[POSTED]
    fields: dict[str, str | Upload] = {}
    if request.content_type == "multipart/form-data":
        head = f"Content-Type: {request.headers[hdrs.CONTENT_TYPE]}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.HTTP).parsebytes(head + await request.read())
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            fields.setdefault(name, Upload(filename, content) if filename is not None
                              else content.decode("utf-8", "replace"))
    else:
        for key, value in (await request.post()).items():
            if isinstance(value, str):
                fields.setdefault(key, value)
    request[POSTED] = fields
    return fields
