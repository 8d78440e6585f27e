"""What every CLI command gets: the loaded configuration, output and store access."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from admin.output import Printer
from registry.config import NodeConfig, load_config
from registry.store import HandleStore

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the operation failed (not found, refused, invalid data); one line on stderr says why
  2  bad usage or configuration (the line names the option or key)
  3  a server or database could not be reached"""


class CliError(Exception):
    """A failure the CLI reports as one line on stderr with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class CommandContext:
    """Configuration and output for one CLI invocation."""

    config: NodeConfig
    out: Printer

    @classmethod
    def from_args(cls, args: argparse.Namespace, overrides: dict[str, Any]) -> CommandContext:
        config_file = Path(args.config) if args.config else None
        config = load_config(config_file, overrides={"data_dir": args.data_dir, **overrides})
        return cls(config=config, out=Printer(args.json))

    @asynccontextmanager
    async def store(self, *, migrate: bool = False) -> AsyncIterator[HandleStore]:
        """The node's registry, opened for the duration of a command."""
        store = await HandleStore.open(self.config.effective_database_url, migrate=migrate)
        try:
            yield store
        finally:
            await store.close()
