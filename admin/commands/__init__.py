"""The CLI's command modules; each has ``register(subparsers)`` (see admin.parsing)."""

from types import ModuleType

from admin.commands import (
    audit,
    bulk,
    dns,
    enterprise,
    handle,
    node,
    prefix,
    resolve,
    root,
    serve,
    stats,
)

COMMAND_MODULES: list[ModuleType] = [
    node, serve, prefix, enterprise, handle, resolve, bulk, audit, stats, dns, root,
]
