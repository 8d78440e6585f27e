"""The ``idnode`` command line: parses arguments and runs one command.

Each command prints a human-readable result (``--json`` for scripts) and exits
with one of the codes listed in ``idnode --help``; an error is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from admin.commands import COMMAND_MODULES
from admin.context import EXIT_CODES_HELP, EXIT_FAILED, EXIT_USAGE, CliError, CommandContext
from admin.parsing import CONFIG_OPTION_PREFIX, common_options
from registry.config import ConfigError
from registry.errors import StoreError


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="idnode",
        description="Operate an idnode identifier resolution node (a Handle secondary node).",
        epilog="Run 'idnode COMMAND --help' for a command's options and examples.\n\n"
        + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``idnode`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {
        name[len(CONFIG_OPTION_PREFIX):]: value
        for name, value in vars(args).items()
        if name.startswith(CONFIG_OPTION_PREFIX) and value is not None
    }
    try:
        ctx = CommandContext.from_args(args, overrides)
        return asyncio.run(args.handler(ctx, args))
    except ConfigError as exc:
        print(f"idnode: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"idnode: {exc}", file=sys.stderr)
        return exc.exit_code
    except StoreError as exc:
        print(f"idnode: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("idnode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
