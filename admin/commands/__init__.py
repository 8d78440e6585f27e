"""The CLI's command modules; each has ``register(subparsers)`` (see admin.parsing).

:data:`COMMANDS` maps every top-level command to the module under
``admin.commands`` that registers it.  ``idnode COMMAND ...`` imports only
that module (a command's start-up does not pay for the servers' imports);
``idnode --help`` and any command missing from the map import them all.  A
new command module: add its command names here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS: dict[str, str] = {
    "init": "node",
    "status": "node",
    "serve": "serve",
    "root": "root",
    "prefix": "prefix",
    "enterprise": "enterprise",
    "handle": "handle",
    "resolve": "resolve",
    "import": "bulk",
    "export": "bulk",
    "audit": "audit",
    "stats": "stats",
    "dns": "dns",
    "keys": "keys",
    "cert": "cert",
    "sign": "sign",
    "trace": "trace",
    "template": "template",
    "demo": "demo",
    "qr": "qr",
    "backup": "backup",
    "restore": "backup",
    "user": "user",
    "backlinks": "backlinks",
}


def command_modules(command: str | None = None) -> list[ModuleType]:
    """The modules to register: the one providing ``command`` if known, else every one."""
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
