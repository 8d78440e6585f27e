"""``idnode keys gen|show|publish``: signing keys for HS_SIGNATURE and HS_CERT values.

``keys gen`` writes a new private key (PKCS#8 PEM, mode 0600) and its public
key next to it as ``FILE.pub`` (PEM); a relative FILE is under the data dir.
The private key is encrypted: the passphrase comes from ``--passphrase-env
VAR``, ``--passphrase-file F`` or, on a terminal, a prompt (asked twice; every
command that reads an encrypted key without those options asks once);
``--unencrypted`` writes it in the clear on purpose (keys the node itself
must load unattended, e.g. ``sign_on_behalf``).  Passphrases are never taken
from the command line and never printed.  ``keys show`` prints JSON.
``keys publish`` stores a key's public half as an HS_PUBKEY value of a handle
in this node's registry.  Every command (here, ``cert``, ``sign``,
``import --sign-key``) that reads a key file takes a relative name as under the data
dir, like ``keys gen`` writes it, and accepts a private key PEM (with its passphrase
options), a public key PEM or HS_PUBKEY value data (such as ``keys/admin_pubkey.bin``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command, add_group
from protocol.constants import TYPE_HS_PUBKEY
from protocol.key_types import ED25519, JWS_KEY_TYPES
from protocol.values import HandleValue
from registry.bootstrap import write_private
from registry.signing_policy import read_public_key
from registry.trust.errors import KeyLoadError, PassphraseNeeded, TrustError
from registry.trust.keys import (
    PrivateKey,
    PublicKey,
    generate_key,
    jwk_thumbprint,
    key_type_of,
    load_private_key,
    private_key_to_pem,
    public_key_to_hs_pubkey,
    public_key_to_jwk,
    public_key_to_pem,
)

DEFAULT_KEY_FILE = Path("keys/signing_key.pem")
PUBLIC_SUFFIX = ".pub"


def add_passphrase_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--passphrase-env VAR`` / ``--passphrase-file F`` for the passphrase of ``what``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--passphrase-env", metavar="VAR",
                       help=f"environment variable holding the passphrase of {what}")
    group.add_argument("--passphrase-file", metavar="FILE",
                       help=f"file holding the passphrase of {what}")


def passphrase(args: argparse.Namespace) -> str | None:
    """The passphrase the options name, or None when none was asked for."""
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env)
        if value is None:
            raise CliError(f"--passphrase-env: {args.passphrase_env} is not set", EXIT_USAGE)
    elif args.passphrase_file:
        raw = read_file(Path(args.passphrase_file), "passphrase file")
        try:
            value = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CliError(f"{args.passphrase_file}: the passphrase is not UTF-8 text",
                           EXIT_USAGE) from None
    else:
        return None
    if not value:
        raise CliError("the passphrase is empty", EXIT_USAGE)
    return value


def read_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``; a usage error naming ``what`` if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror}", EXIT_USAGE) from None


def read_private_key(path: Path, args: argparse.Namespace) -> PrivateKey:
    """The private key in ``path``, decrypted with the passphrase options of ``args``, or
    for an encrypted key without them, with a passphrase asked for on a terminal."""
    data = read_file(path, "key file")
    given = passphrase(args)
    try:
        try:
            return load_private_key(data, given)
        except PassphraseNeeded:
            if given is not None or not sys.stdin.isatty():
                raise CliError(f"{path}: the private key is encrypted: give --passphrase-env "
                               "VAR or --passphrase-file F (or run on a terminal to be asked)",
                               EXIT_USAGE) from None
            return load_private_key(data, getpass.getpass(f"passphrase for {path}: "))
    except KeyLoadError as exc:
        raise CliError(f"{path}: {exc}", EXIT_USAGE) from None


def read_public_key_file(path: Path, args: argparse.Namespace) -> PublicKey:
    """The public key in ``path`` (a private key PEM gives its public half)."""
    data = read_file(path, "key file")
    if b"PRIVATE KEY-----" in data:
        return read_private_key(path, args).public_key()
    try:
        return read_public_key(data)
    except TrustError as exc:
        raise CliError(f"{path}: {exc}", EXIT_USAGE) from None


def describe_key(key: PublicKey) -> dict[str, Any]:
    """Type, RFC 7638 thumbprint and public JWK of ``key``."""
    return {"type": key_type_of(key), "thumbprint": jwk_thumbprint(key),
            "jwk": public_key_to_jwk(key)}


async def put_value(ctx: CommandContext, handle: str, value: HandleValue) -> None:
    """Add or overwrite ``value`` on ``handle`` in this node's registry, in one write
    held to the node's write rules (a signed record stays signed, or it is refused)."""
    async with ctx.store() as store:
        await store.upsert_values(handle, [value], actor=ctx.actor)


def new_passphrase(args: argparse.Namespace) -> str | None:
    """The passphrase of a new key: the options', else asked twice on a terminal; None only
    with ``--unencrypted``."""
    if args.unencrypted:
        if args.passphrase_env or args.passphrase_file:
            raise CliError("--unencrypted and a passphrase option contradict each other",
                           EXIT_USAGE)
        return None
    given = passphrase(args)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise CliError("a new key is encrypted: give --passphrase-env VAR or --passphrase-file "
                       "F (or --unencrypted for a key the node loads unattended)", EXIT_USAGE)
    first = getpass.getpass("passphrase for the new key: ")
    if not first:
        raise CliError("the passphrase is empty", EXIT_USAGE)
    if getpass.getpass("the same passphrase again: ") != first:
        raise CliError("the two passphrases differ", EXIT_USAGE)
    return first


async def gen(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Generate a key pair."""
    out = ctx.config.path(Path(args.out) if args.out else DEFAULT_KEY_FILE)
    public_path = out.with_name(out.name + PUBLIC_SUFFIX)
    for path in (out, public_path):
        if path.exists() and not args.force:
            raise CliError(f"{path} exists (use --force to replace it)")
    secret = new_passphrase(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key(args.type)
    write_private(out, private_key_to_pem(key, secret))
    public_path.write_bytes(public_key_to_pem(key.public_key()))
    result = {"private_key": str(out), "public_key": str(public_path),
              "encrypted": secret is not None, **describe_key(key.public_key())}
    ctx.out.result(result, f"{args.type} key written to {out} (public key {public_path}); "
                   f"thumbprint {result['thumbprint']}")
    return EXIT_OK


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Describe a key file without printing anything secret."""
    path = ctx.config.path(Path(args.file))
    data = read_file(path, "key file")
    private = b"PRIVATE KEY-----" in data
    key = read_public_key_file(path, args)
    described = {"file": str(path), "private": private,
                 "encrypted": private and b"ENCRYPTED PRIVATE KEY" in data, **describe_key(key)}
    ctx.out.result(described, json.dumps(described, indent=2, ensure_ascii=False))
    return EXIT_OK


async def publish(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Store a key's public half as HS_PUBKEY at ``--index`` of a handle."""
    key = read_public_key_file(ctx.config.path(Path(args.key)), args)
    value = HandleValue(args.index, TYPE_HS_PUBKEY, public_key_to_hs_pubkey(key))
    await put_value(ctx, args.handle, value)
    ctx.out.result({"handle": args.handle, "index": args.index, "type": TYPE_HS_PUBKEY,
                    "thumbprint": jwk_thumbprint(key)})
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keys`` command group."""
    group = add_group(subparsers, "keys", "Signing keys: generate, inspect, publish.")
    parser = add_command(
        group, "gen", gen, summary="Generate a signing key pair (FILE and FILE.pub).",
        examples="  idnode keys gen --type ed25519 --out keys/acme.pem --passphrase-env ACME_PASS\n"
        "  idnode keys gen --out keys/acme.pem          # asks for the passphrase\n"
        "  idnode keys gen --out keys/enterprises/88.118.8.pem --unencrypted   # sign_on_behalf",
    )
    parser.add_argument("--type", choices=JWS_KEY_TYPES, default=ED25519, help="key type")
    parser.add_argument("--out", metavar="FILE",
                        help=f"private key file, relative to the data dir unless absolute "
                        f"(default: {DEFAULT_KEY_FILE})")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    add_passphrase_options(parser, "the new key (encrypts it)")
    parser.add_argument("--unencrypted", action="store_true",
                        help="write the private key in the clear (for keys the node loads "
                        "unattended)")

    parser = add_command(
        group, "show", show, summary="Show a key's type, thumbprint and public JWK.",
        examples="  idnode keys show acme.pem --passphrase-file pass.txt\n"
        "  idnode keys show keys/admin_pubkey.bin",
    )
    parser.add_argument("file", help="private key PEM, public key PEM or HS_PUBKEY data")
    add_passphrase_options(parser, "the key")

    parser = add_command(
        group, "publish", publish, summary="Store a public key as HS_PUBKEY on a handle.",
        writes=True,
        examples="  idnode keys publish 0.NA/88.118.8 --index 301 --key acme.pem.pub",
    )
    parser.add_argument("handle")
    parser.add_argument("--index", type=int, required=True, help="value index for the key")
    parser.add_argument("--key", required=True, metavar="FILE", help="the key (public or private)")
    add_passphrase_options(parser, "the key")
