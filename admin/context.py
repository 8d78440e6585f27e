"""What every CLI command gets: the loaded configuration, output and store access.

A store opened with :meth:`CommandContext.store` tells the node's serving
processes about every write it commits when ``redis_url`` is configured
(:mod:`admin.invalidation`), before the command prints its result.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from admin.invalidation import CacheInvalidation
from admin.output import Printer
from protocol.values import HandleValue
from registry.bootstrap import ADMIN_KEY_FILE, ADMIN_PUBKEY_FILE, NodeKeyFiles
from registry.config import NodeConfig, load_config
from registry.store import HandleStore
from registry.trust.keys import PrivateKey
from registry.write_rules import WriteRules
from resolver.core.site import build_site_info, site_info_value

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the operation failed (not found, refused, invalid data); one line on stderr says why
  2  bad usage or configuration (the line names the option or key)
  3  a server or database could not be reached"""


def is_database_error(exc: BaseException) -> bool:
    """A failure of the database or of reaching it, from SQLAlchemy or a driver used directly.

    The store reads some rows straight through aiosqlite or asyncpg, so their
    own exceptions count as well as SQLAlchemy's.
    """
    if isinstance(exc, BrokenPipeError):  # our own stdout went away
        return False
    return (
        isinstance(exc, (SQLAlchemyError, sqlite3.Error, ConnectionError, TimeoutError))
        or type(exc).__module__.startswith("asyncpg")
    )


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

    @property
    def node_prefix(self) -> str:
        """This node's own prefix (the first configured one)."""
        return self.config.prefixes[0]

    @property
    def actor(self) -> str:
        """Who the audit log names for writes made by this command."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"cli:{user}"

    @property
    def key_files(self) -> NodeKeyFiles:
        """The node's key files, resolved against the data dir."""
        path = self.config.path
        return NodeKeyFiles(
            server_key=path(self.config.server_key_path),
            server_pubkey=path(self.config.server_pubkey_path),
            admin_key=path(Path(ADMIN_KEY_FILE)),
            admin_pubkey=path(Path(ADMIN_PUBKEY_FILE)),
        )

    def site_value(self) -> HandleValue:
        """This node's HS_SITE value from the configuration and the server public key."""
        pubkey_path = self.key_files.server_pubkey
        public_key = pubkey_path.read_bytes() if pubkey_path.exists() else b""
        site = build_site_info(
            self.config.site_addresses,
            public_key=public_key,
            http_port=self.config.http_port or None,
            description=f"idnode {self.node_prefix}",
        )
        return site_info_value(site)

    def missing_sqlite_file(self) -> Path | None:
        """The SQLite file the database URL names, when it does not exist yet."""
        try:
            url = make_url(self.config.effective_database_url)
        except ArgumentError:
            return None
        if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
            return None
        path = Path(url.database)
        return None if path.exists() else path

    @asynccontextmanager
    async def store(
        self, *, migrate: bool = False, signers: Mapping[str, PrivateKey] | None = None
    ) -> AsyncIterator[HandleStore]:
        """The node's registry, opened for the duration of a command.

        A database that cannot be reached is a :class:`CliError` with exit code 3.
        Without ``migrate`` (every command but ``init``) a missing SQLite file is
        a :class:`CliError` (exit 1) naming the data dir, and no file is created:
        a command run in the wrong directory leaves nothing behind.
        With ``redis_url``, each committed write invalidates the changed handles in
        every serving process's cache before the write call returns.
        ``signers`` (prefix key -> private key) adds enterprise keys the store signs
        with for this command, as if ``sign_on_behalf`` named them.
        """
        missing = self.missing_sqlite_file()
        if missing is not None and not migrate:
            raise CliError(f"not initialised: no node database at {missing} (run 'idnode init', "
                           f"or give the --data-dir of a node)")
        try:
            store = await HandleStore.open(
                self.config.effective_database_url,
                schema=self.config.database_schema or None,
                migrate=migrate,
                rules=WriteRules.from_config(self.config, signers=signers),
                pg_partitions=self.config.pg_partitions,
            )
        except (OSError, SQLAlchemyError) as exc:
            raise CliError(f"cannot open the database: {_first_line(exc)}", EXIT_UNREACHABLE
                           ) from None
        invalidation = CacheInvalidation(self.config) if self.config.redis_url else None
        store.on_change = invalidation
        try:
            yield store
        finally:
            if invalidation is not None:
                await invalidation.close()
            await store.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
