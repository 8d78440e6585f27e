"""Issuing an HS_CERT: the one code path of ``idnode cert issue`` and ``cert approve``.

:func:`certify` signs the subject's key with the issuer's and writes the
certificate on the subject's handle (replacing the issuer's earlier one for the
same subject); :func:`add_issue_options` declares the options it reads.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from admin.commands.keys import add_passphrase_options, read_private_key
from admin.commands.registry_access import Registry
from admin.commands.root import parse_identity
from admin.context import EXIT_USAGE, CliError, CommandContext
from protocol.constants import TYPE_HS_CERT
from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust.certs import DEFAULT_CERT_INDEX, issue_cert, signed_values
from registry.trust.claims import (
    PERM_THIS_HANDLE,
    Permission,
    ValueRef,
    prefix_permissions,
)
from registry.trust.errors import TrustError
from registry.trust.keys import PublicKey, jwk_thumbprint
from registry.trust.signatures import next_free_index

DAY = 86_400
#: a new certificate is valid from a little before now, for clocks running behind
CLOCK_SKEW = 300


def ref_option(text: str, option: str) -> ValueRef:
    """``INDEX:HANDLE`` given to ``option``; a usage error naming the option otherwise."""
    try:
        index, handle = parse_identity(text)
    except CliError:
        raise CliError(f"{option} must be INDEX:HANDLE, got {text!r}", EXIT_USAGE) from None
    return ValueRef(handle, index)


def _perms(subject: str, derived: bool) -> tuple[Permission, ...]:
    if name_key(subject).startswith(name_key("0.NA/")):
        return prefix_permissions(subject, derived_prefixes=derived)
    return (Permission(subject, PERM_THIS_HANDLE),)


def _cert_index(values: list[HandleValue], issuer: ValueRef, subject: ValueRef) -> int:
    """The index of the issuer's current certificate for ``subject``, else a free one."""
    for cert in signed_values(subject.handle, values, TYPE_HS_CERT):
        if ValueRef.parse(cert.claims.iss).same(issuer) and ValueRef.parse(
            cert.claims.sub
        ).same(subject):
            return cert.index
    return next_free_index(values, DEFAULT_CERT_INDEX)


def _write_value(path: Path, handle: str, value: HandleValue) -> None:
    """``value`` as the REST JSON ``idnode handle set --from-json`` reads."""
    document = {"handle": handle, "values": [value_to_json(value)]}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def when(seconds: int | None) -> str | None:
    """``seconds`` since the epoch as ISO 8601 UTC, None kept."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


async def certify(
    ctx: CommandContext, args: argparse.Namespace, registry: Registry, subject: ValueRef,
    subject_key: PublicKey,
) -> dict[str, Any]:
    """Certify ``subject_key`` as ``subject`` with the issuer options of ``args``; write the
    HS_CERT through ``registry``; what was written, as a result row."""
    if args.days < 1:
        raise CliError("--days must be at least 1", EXIT_USAGE)
    issuer = ref_option(args.issuer, "--issuer")
    issuer_key = read_private_key(ctx.config.path(Path(args.issuer_key)), args)
    existing = await registry.values(subject.handle)
    index = args.index or _cert_index(existing, issuer, subject)
    now = int(time.time())
    try:
        cert = issue_cert(
            issuer.handle, issuer.index, issuer_key, subject.handle, subject.index, subject_key,
            now - CLOCK_SKEW, now + args.days * DAY,
            _perms(subject.handle, not args.no_derived_prefixes), issued=now, index=index,
        )
    except TrustError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    await registry.put(subject.handle, cert, existing)
    if args.out:
        _write_value(Path(args.out), subject.handle, cert)
    return {
        "handle": subject.handle, "index": index, "issuer": str(issuer),
        "subject": str(subject), "key": jwk_thumbprint(subject_key),
        "expires": when(now + args.days * DAY), "written": registry.where,
    }


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
