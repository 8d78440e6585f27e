"""The CLI's command modules; each has ``register(subparsers)`` (see admin.parsing)."""

from types import ModuleType

COMMAND_MODULES: list[ModuleType] = []
