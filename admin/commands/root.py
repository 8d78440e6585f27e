"""``idnode root register``: create or update this node's prefix handle at the root.

The prefix handle ``0.NA/<node prefix>`` at the root (the GHR/MPA, or a local
``idnode serve --role root``) is what sends the world to this node.  The
command writes its HS_SITE (every server of the node, with the server public
key), the HS_ADMIN naming the node administrator and the node administrator's
HS_PUBKEY, over the authenticated Handle protocol:

* the first registration needs an identity allowed to add prefixes under the
  parent prefix at the root (``--admin``/``root_admin``, with ``--key`` or
  ``--secret-file``); later updates can use the node's own admin key, which
  is the default (``300:0.NA/<node prefix>``, ``keys/admin_key.pem``);
* an existing handle is updated value by value (values the root added at
  other indexes stay), and the site's serial number goes up when the servers
  change, so resolvers holding the old site notice.

Secrets are read from files, never from the command line, and never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from admin.commands.prefix import parse_server
from admin.context import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    CommandContext,
)
from admin.parsing import add_command, add_group
from protocol.constants import RC_ERROR, RC_SUCCESS, TYPE_HS_SITE, response_code_name
from protocol.errors import ProtocolError
from protocol.key_types import handle_key_types_text
from protocol.site_info import decode_site_info
from protocol.values import HandleValue
from registry.bootstrap import CREDENTIAL_INDEX, SITE_INDEX, node_prefix_values
from registry.names import prefix_handle
from registry.trust.keys import KeyLoadError, load_handle_signing_key
from resolver.core.client import (
    Credentials,
    HandleClient,
    HandleClientError,
    PublicKeyAuth,
    SecretKeyAuth,
)
from resolver.core.site import build_site_info, site_info_value

MAX_SERIAL = 0x7FFF


def parse_identity(text: str) -> tuple[int, str]:
    """``INDEX:HANDLE`` as ``(index, handle)``."""
    index, colon, handle = text.partition(":")
    if not colon or not index.isdigit() or "/" not in handle:
        raise CliError(f"admin identity must be INDEX:HANDLE, got {text!r}", EXIT_USAGE)
    return int(index), handle


def credentials(ctx: CommandContext, args: argparse.Namespace) -> Credentials:
    """The identity and key the root is asked to accept."""
    default = f"{CREDENTIAL_INDEX}:{prefix_handle(ctx.node_prefix)}"
    index, handle = parse_identity(args.admin or ctx.config.root_admin or default)
    if args.secret_file:
        secret = _read(Path(args.secret_file), "secret file").strip()
        return SecretKeyAuth(handle, index, secret)
    key_path = Path(args.key) if args.key else ctx.key_files.admin_key
    passphrase = _read(Path(args.passphrase_file), "passphrase file").strip() if (
        args.passphrase_file
    ) else None
    try:
        key = load_handle_signing_key(_read(key_path, "key file"), passphrase)
    except KeyLoadError as exc:
        raise CliError(f"{key_path}: {exc}", EXIT_USAGE) from None
    if key is None:
        raise CliError(f"{key_path}: the Handle protocol signs with {handle_key_types_text()} keys",
                       EXIT_USAGE)
    return PublicKeyAuth(handle, index, key)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror}", EXIT_USAGE) from None


def site_value(ctx: CommandContext, servers: list[str], serial: int) -> HandleValue:
    """The node's HS_SITE: every server given (default: the configured public address)."""
    config = ctx.config
    addresses = [parse_server(s) for s in servers] or [(config.public_host, config.handle_port)]
    pubkey = ctx.key_files.server_pubkey
    site = build_site_info(
        addresses,
        public_key=pubkey.read_bytes() if pubkey.exists() else b"",
        http_port=config.http_port or None,
        serial_number=serial,
        description=f"idnode {ctx.node_prefix}",
    )
    return site_info_value(site, SITE_INDEX)


def next_serial(old: HandleValue | None, new: HandleValue) -> int:
    """The serial number for ``new``: the old one, plus one when the servers changed."""
    if old is None:
        return 1
    try:
        previous = decode_site_info(old.data)
    except ProtocolError:
        return 1
    changed = dataclasses.replace(previous, serial_number=1) != decode_site_info(new.data)
    return previous.serial_number % MAX_SERIAL + 1 if changed else previous.serial_number


def prefix_values(
    ctx: CommandContext, servers: list[str], old_site: HandleValue | None
) -> list[HandleValue]:
    """HS_SITE (serial bumped when the servers changed), HS_ADMIN and the admin HS_PUBKEY."""
    old = old_site if old_site is not None and old_site.type == TYPE_HS_SITE else None
    serial = next_serial(old, site_value(ctx, servers, 1))
    pubkey = ctx.key_files.admin_pubkey
    values = node_prefix_values(
        ctx.node_prefix, site_value(ctx, servers, serial),
        pubkey.read_bytes() if pubkey.exists() else b"",
    )
    return values if pubkey.exists() else [v for v in values if v.index != CREDENTIAL_INDEX]


async def write_prefix_handle(
    client: HandleClient, handle: str, servers: list[str], ctx: CommandContext,
    auth: Credentials,
) -> tuple[bool, HandleValue]:
    """Create or update ``handle`` at the root; (whether it existed, the HS_SITE written)."""
    root = parse_server(ctx.config.root_address)
    current = await client.resolve(handle, server=root, recursive=False)
    existing = {v.index: v for v in current.values} if current.response_code == RC_SUCCESS else {}
    values = prefix_values(ctx, servers, existing.get(SITE_INDEX))
    if not existing:
        await client.create_handle(handle, values, server=root, auth=auth)
    changed = [v for v in values if v.index in existing]
    added = [v for v in values if v.index not in existing]
    if existing and changed:
        await client.modify_values(handle, changed, server=root, auth=auth)
    if existing and added:
        await client.add_values(handle, added, server=root, auth=auth)
    site = next(v for v in values if v.index == SITE_INDEX)
    return bool(existing), site


async def register_at_root(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Create or update ``0.NA/<node prefix>`` at the root."""
    if not ctx.config.root_address:
        raise CliError("no root address: set root_address or pass --root-address", EXIT_USAGE)
    handle = prefix_handle(ctx.node_prefix)
    auth = credentials(ctx, args)
    try:
        existed, site = await write_prefix_handle(
            HandleClient(timeout=args.timeout), handle, args.server or [], ctx, auth
        )
    except HandleClientError as exc:
        reason = f"{response_code_name(exc.response_code)}: {exc.message}".rstrip(": ")
        code = EXIT_UNREACHABLE if exc.response_code == RC_ERROR else EXIT_FAILED
        raise CliError(f"the root refused or did not answer: {reason}", code) from None
    info = decode_site_info(site.data)
    result: dict[str, Any] = {
        "handle": handle,
        "root": ctx.config.root_address,
        "action": "updated" if existed else "created",
        "site_serial": info.serial_number,
        "servers": [f"{s.ip}:{s.interfaces[0].port}" for s in info.servers],
        "identity": f"{auth.index}:{auth.handle}",
    }
    ctx.out.result(result)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``root register``."""
    group = add_group(subparsers, "root", "Work with the root this node is registered under.")
    parser = add_command(
        group, "register", register_at_root,
        summary="Create or update this node's prefix handle at the root (HS_SITE, admin, key).",
        examples="""  idnode root register --root-address 127.0.0.1:12641 \\
      --admin 300:0.NA/88 --key root-data/keys/admin_key.pem     # first time
  idnode root register                                           # later updates
  idnode root register --server 10.0.0.5:2641 --server 10.0.0.6:2641""",
    )
    parser.add_argument("--root-address", dest="cfg_root_address", help="HOST:PORT of the root")
    parser.add_argument("--server", action="append", metavar="HOST:PORT",
                        help="a server of this node (repeatable; default: public_host:handle_port)")
    parser.add_argument("--admin", metavar="INDEX:HANDLE",
                        help="identity to authenticate as (default: root_admin, else the node "
                        "admin)")
    parser.add_argument("--key", help="private key (PEM) of that identity "
                        "(default: the node admin key)")
    parser.add_argument("--passphrase-file", help="file holding the key's passphrase")
    parser.add_argument("--secret-file", help="file holding an HS_SECKEY secret to use instead")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")

