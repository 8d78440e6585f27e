"""Building the ``idnode`` argument parser: shared options and command registration.

Every command module under :mod:`admin.commands` has ``register(subparsers)``
which calls :func:`add_command` for each of its commands.  A command's handler
is ``async def handler(ctx: CommandContext, args: Namespace) -> int`` (or a plain
function returning the exit code or that coroutine: ``import`` forks processes, which
it does before any event loop runs).  An
option with ``dest="cfg_<key>"`` overrides configuration key ``<key>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from admin.context import EXIT_CODES_HELP, CommandContext
from admin.invalidation import SERVERS_NOTE

CONFIG_OPTION_PREFIX = "cfg_"
"""Options whose ``dest`` starts with this override the NodeConfig key after it."""

Handler = Callable[[CommandContext, argparse.Namespace], Awaitable[int] | int]


def common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before and after the command name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir", default=default, help="node data directory (default: ./idnode-data)"
    )
    parser.add_argument("--config", default=default, help="configuration file (idnode.toml)")
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
        help="print machine-readable JSON instead of tables",
    )
    if not suppress:
        parser.add_argument(
            "--database-url", dest=CONFIG_OPTION_PREFIX + "database_url", metavar="URL",
            help="registry database URL (default: SQLite in the data dir)",
        )
        parser.add_argument(
            "--database-schema", dest=CONFIG_OPTION_PREFIX + "database_schema", metavar="SCHEMA",
            help="PostgreSQL schema of the registry tables",
        )


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    *,
    summary: str,
    examples: str = "",
    writes: bool = False,
) -> argparse.ArgumentParser:
    """Add one command with its help text, examples and the shared options.

    ``writes``: the command changes handles or prefixes; its help says when
    running servers see the change (:data:`admin.invalidation.SERVERS_NOTE`).
    """
    epilog = (f"examples:\n{examples.rstrip()}\n\n" if examples else "") + (
        f"{SERVERS_NOTE}\n\n" if writes else ""
    ) + EXIT_CODES_HELP
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common_options(parser, suppress=True)
    parser.set_defaults(handler=handler)
    return parser


def add_group(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command with sub-commands (``idnode prefix create``...)."""
    parser = subparsers.add_parser(name, help=summary, description=summary)
    group = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
    return group
