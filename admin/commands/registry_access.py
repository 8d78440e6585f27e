"""Where trust values (HS_CERT, HS_REVOCATION, HS_SIGNATURE) are read and written.

:class:`Registry` is this node's registry, or with ``--server HOST:PORT`` a Handle
server reached over the Handle protocol, writes authenticated as ``--admin`` with
``--auth-key`` or ``--secret-file`` (default: the node admin).  Used by
``idnode cert`` and ``idnode sign``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from admin.commands.keys import put_value
from admin.commands.prefix import parse_server
from admin.commands.root import credentials
from admin.context import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, CliError, CommandContext
from protocol.constants import RC_ERROR, RC_SUCCESS, response_code_name
from protocol.values import HandleValue
from registry.errors import HandleNotFound
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError


class Registry:
    """Where certificates are read and written: this node's registry, or a Handle server."""

    def __init__(self, ctx: CommandContext, args: argparse.Namespace,
                 store: HandleStore | None = None) -> None:
        self.ctx = ctx
        self.args = args
        self.store = store
        self.server = parse_server(args.server) if args.server else None
        self.client = HandleClient(timeout=args.timeout)

    @property
    def where(self) -> str:
        """How output names the place written to."""
        return self.args.server or "local"

    async def values(self, handle: str) -> list[HandleValue]:
        """The public values of ``handle``; an error when it does not exist."""
        if self.server is None:
            if self.store is not None:
                record = await self.store.get_handle(handle)
            else:
                async with self.ctx.store() as store:
                    record = await store.get_handle(handle)
            if record is None:
                raise HandleNotFound(f"handle {handle} not found")
            return list(record.values)
        try:
            answer = await self.client.resolve(handle, server=self.server, recursive=False)
        except HandleClientError as exc:
            raise _remote_error(exc) from None
        if answer.response_code != RC_SUCCESS:
            raise HandleNotFound(f"handle {handle} not found at {self.args.server}")
        return list(answer.values)

    async def under(self, prefix: str) -> AsyncIterator[tuple[str, list[HandleValue]]]:
        """Every record under ``prefix`` in this node's registry (never over ``--server``)."""
        if self.store is None:
            raise CliError(f"{prefix}: records under a prefix are listed from this node's "
                           "registry only", EXIT_USAGE)
        async for record in self.store.iter_handles(prefix):
            yield record.name, list(record.values)

    async def put(self, handle: str, value: HandleValue, existing: list[HandleValue]) -> None:
        """Add ``value`` to ``handle``, or overwrite the value at its index."""
        if self.server is None:
            if self.store is not None:
                await self.store.upsert_values(handle, [value], actor=self.ctx.actor)
            else:
                await put_value(self.ctx, handle, value)
            return
        auth = credentials(self.ctx, argparse.Namespace(
            admin=self.args.admin, secret_file=self.args.secret_file, key=self.args.auth_key,
            passphrase_file=self.args.auth_passphrase_file))
        write = self.client.modify_values if any(v.index == value.index for v in existing) else (
            self.client.add_values
        )
        try:
            await write(handle, [value], server=self.server, auth=auth)
        except HandleClientError as exc:
            raise _remote_error(exc) from None


def _remote_error(exc: HandleClientError) -> CliError:
    reason = f"{response_code_name(exc.response_code)}: {exc.message}".rstrip(": ")
    code = EXIT_UNREACHABLE if exc.response_code == RC_ERROR else EXIT_FAILED
    return CliError(f"the server refused or did not answer: {reason}", code)


def server_option(parser: argparse.ArgumentParser) -> None:
    """``--server`` and ``--timeout``: read at a Handle server instead of this registry."""
    parser.add_argument("--server", metavar="HOST:PORT",
                        help="read and write at this Handle server (default: this node's "
                        "registry)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")


def server_options(parser: argparse.ArgumentParser) -> None:
    """:func:`server_option` plus the identity that authenticates the writes there."""
    server_option(parser)
    parser.add_argument("--admin", metavar="INDEX:HANDLE",
                        help="identity to authenticate to --server as (default: root_admin, "
                        "else the node admin)")
    parser.add_argument("--auth-key", metavar="FILE",
                        help="RSA private key of that identity (default: the node admin key)")
    parser.add_argument("--auth-passphrase-file", metavar="FILE",
                        help="file holding the passphrase of --auth-key")
    parser.add_argument("--secret-file", metavar="FILE",
                        help="file holding an HS_SECKEY secret to authenticate with instead")
