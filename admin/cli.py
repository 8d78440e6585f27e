"""The ``idnode`` command line: parses arguments and runs one command.

Each command prints a human-readable result (``--json`` for scripts) and exits
with one of the codes listed in ``idnode --help``; an error is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError

from admin.commands import command_modules
from admin.context import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    CommandContext,
    is_database_error,
)
from admin.errors import store_error_line
from admin.parsing import CONFIG_OPTION_PREFIX, common_options
from registry.config import ConfigError
from registry.errors import StoreError

_NOT_INITIALISED = ("no such table", "does not exist")


def database_error(exc: Exception) -> CliError:
    """The one-line CLI error for a database failure (see :func:`is_database_error`)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    if any(marker in first for marker in _NOT_INITIALISED):
        return CliError(f"the database is not initialised (run 'idnode init'): {first}")
    if isinstance(exc, OSError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return CliError(f"cannot reach the database: {first}", EXIT_UNREACHABLE)
    return CliError(f"database error: {first}")


def leading_options(argv: Sequence[str]) -> argparse.Namespace | None:
    """The options before the command and the command's name (None if unparsable)."""
    probe = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    common_options(probe, suppress=False)
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        known, _unknown = probe.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return None
    return known


def command_name(argv: Sequence[str]) -> str | None:
    """The command ``argv`` asks for (``import`` in ``--data-dir d import f``), if any."""
    known = leading_options(argv)
    command = None if known is None else known.command
    return command if isinstance(command, str) else None


def config_overrides(argv: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    """NodeConfig keys set by ``cfg_*`` options, after the command or else before it.

    A command may define an option the top level has too (``serve
    --database-url``); the command's own unset default must not hide the
    top-level value.
    """
    layers = [vars(leading_options(argv) or argparse.Namespace()), vars(args)]
    return {
        name[len(CONFIG_OPTION_PREFIX):]: value
        for layer in layers
        for name, value in layer.items()
        if name.startswith(CONFIG_OPTION_PREFIX) and value is not None
    }


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the command ``argv`` names registered (all when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        prog="idnode",
        description="Operate an idnode identifier resolution node (a Handle secondary node).",
        epilog="Run 'idnode COMMAND --help' for a command's options and examples.\n\n"
        + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules(None if argv is None else command_name(argv)):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``idnode`` console script."""
    cli_args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(cli_args)
    args = parser.parse_args(cli_args)
    args.argv = cli_args
    overrides = config_overrides(cli_args, args)
    try:
        try:
            ctx = CommandContext.from_args(args, overrides)
            run_loop = getattr(args, "run_loop", asyncio.run)
            outcome = args.handler(ctx, args)  # a coroutine, or (a command that forks) done
            return int(run_loop(outcome) if inspect.iscoroutine(outcome) else outcome)
        except Exception as exc:
            if not is_database_error(exc):
                raise
            raise database_error(exc) from None
    except ConfigError as exc:
        print(f"idnode: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"idnode: {exc}", file=sys.stderr)
        return exc.exit_code
    except StoreError as exc:
        print(f"idnode: {store_error_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("idnode: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output left (idnode ... | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
