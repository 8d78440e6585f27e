"""Issuing an HS_CERT from the command line: ``idnode cert issue`` and ``cert approve``.

The certificate itself is made by :func:`registry.cert_issuance.issue_for`, the
code path the console's approve button takes too.  :func:`certify` reads the
issuer options, signs the subject's key and writes the certificate on the
subject's handle (replacing the issuer's earlier one for the same subject)
here or at ``--server``; :func:`add_issue_options` declares the options.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from admin.commands.keys import add_passphrase_options, read_private_key
from admin.commands.registry_access import Registry
from admin.commands.root import parse_identity
from admin.context import EXIT_USAGE, CliError, CommandContext
from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from registry.cert_issuance import IssuedCert, issue_for
from registry.config import MAX_CERT_DAYS
from registry.errors import InvalidArgument
from registry.trust.certs import DEFAULT_CERT_INDEX
from registry.trust.claims import ValueRef
from registry.trust.keys import PrivateKey, PublicKey


def ref_option(text: str, option: str) -> ValueRef:
    """``INDEX:HANDLE`` given to ``option``; a usage error naming the option otherwise."""
    try:
        index, handle = parse_identity(text)
    except CliError:
        raise CliError(f"{option} must be INDEX:HANDLE, got {text!r}", EXIT_USAGE) from None
    return ValueRef(handle, index)


def _write_value(path: Path, handle: str, value: HandleValue) -> None:
    """``value`` as the REST JSON ``idnode handle set --from-json`` reads."""
    document = {"handle": handle, "values": [value_to_json(value)]}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def when(seconds: int | None) -> str | None:
    """``seconds`` since the epoch as ISO 8601 UTC, None kept."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def issuer_options(
    ctx: CommandContext, args: argparse.Namespace
) -> tuple[ValueRef, PrivateKey]:
    """The issuer reference and its decrypted key from ``--issuer``/``--issuer-key``."""
    if not 1 <= args.days <= MAX_CERT_DAYS:
        raise CliError(f"--days must be 1 to {MAX_CERT_DAYS}, got {args.days}", EXIT_USAGE)
    issuer = ref_option(args.issuer, "--issuer")
    return issuer, read_private_key(ctx.config.path(Path(args.issuer_key)), args)


def write_out(args: argparse.Namespace, issued: IssuedCert) -> None:
    """With ``--out``, the certificate also as REST JSON in that file."""
    if args.out:
        _write_value(Path(args.out), issued.handle, issued.value)


async def certify(
    ctx: CommandContext, args: argparse.Namespace, registry: Registry, subject: ValueRef,
    subject_key: PublicKey,
) -> dict[str, Any]:
    """Certify ``subject_key`` as ``subject`` with the issuer options of ``args``
    (:func:`registry.cert_issuance.issue_for`); write the HS_CERT through ``registry``;
    what was written, as a result row."""
    issuer, issuer_key = issuer_options(ctx, args)
    existing = await registry.values(subject.handle)
    try:
        issued = issue_for(existing, issuer, issuer_key, subject, subject_key, args.days,
                           index=args.index, derived_prefixes=not args.no_derived_prefixes)
    except InvalidArgument as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    await registry.put(subject.handle, issued.value, existing)
    write_out(args, issued)
    return {**issued.to_json(), "written": registry.where}


def add_issue_options(parser: argparse.ArgumentParser) -> None:
    """The issuer, validity and output options :func:`certify` reads."""
    parser.add_argument("--issuer-key", required=True, metavar="FILE",
                        help="the issuer's private key (PEM)")
    parser.add_argument("--issuer", required=True, metavar="INDEX:HANDLE",
                        help="who signs: the reference the issuer's own key is certified as")
    parser.add_argument("--days", type=int, required=True, help="validity in days")
    parser.add_argument("--index", type=int,
                        help="value index (default: the issuer's earlier certificate for the "
                        f"subject, else the first free from {DEFAULT_CERT_INDEX})")
    parser.add_argument("--no-derived-prefixes", action="store_true",
                        help="do not let the subject vouch for prefixes derived from its own")
    parser.add_argument("--out", metavar="FILE",
                        help="also write the value as REST JSON (for 'idnode handle set "
                        "--from-json')")
    add_passphrase_options(parser, "the issuer key")
