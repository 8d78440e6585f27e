"""``idnode cert issue|revoke|show``: the chain of trust root -> node -> enterprise.

An HS_CERT value on a subject's handle binds the subject's key to its value
reference ``INDEX:HANDLE`` (see :mod:`registry.trust.certs`); record
signatures verify up such a chain to the node's trust anchor (the root's
public key, ``trust_anchor_path``).  A typical setup::

    # the root certifies the node's key, on 0.NA/88.118 in the root's own registry
    idnode --data-dir root-data cert issue --issuer-key root-data/keys/signing_key.pem \\
        --issuer 300:0.NA/88 --subject 300:0.NA/88.118 --subject-key node.pem.pub \\
        --days 365 --out node-cert.json
    # ... or at the root over the authenticated Handle protocol (--server HOST:PORT;
    # the node admin key authenticates unless --admin/--auth-key/--secret-file say otherwise)
    # the node resolves its own prefix handle locally, so it fetches a copy (verified):
    idnode cert fetch --from ROOT:2641 --anchor-thumbprint <root key thumbprint>
    # the node certifies each enterprise's key, on 0.NA/88.118.8
    idnode cert issue --issuer-key node.pem --issuer 300:0.NA/88.118 \\
        --subject 300:0.NA/88.118.8 --subject-key acme.pem.pub --days 180
    # and withdraws it: an HS_REVOCATION on the issuer's handle, honoured by resolvers
    idnode cert revoke --issuer-key node.pem --issuer 300:0.NA/88.118 --subject 300:0.NA/88.118.8

An enterprise asks for its certificate with ``idnode cert request --key acme.pem
--subject 300:0.NA/88.118.8 --out acme.certreq`` (a JWS signed by the key it wants
certified: proof that it holds it) and sends the file to the node operator, who
approves it with ``idnode cert issue --request acme.certreq ...`` (the write is in
the audit log); the enterprise then runs ``idnode cert fetch``.  Or the request
waits in the node's review queue (``cert submit``/``cert request --submit``, REST
``POST /api/cert-requests``) for ``cert approve``/``cert reject``
(:mod:`admin.commands.cert_queue`).

A certificate for a prefix handle grants the handle itself, every handle
under the prefix and (unless ``--no-derived-prefixes``) the prefixes derived
from it, which a node needs to vouch for its enterprises.  A new certificate
for a subject replaces the issuer's earlier one at the same index.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from admin.commands.cert_fetch import register_fetch
from admin.commands.cert_issue import add_issue_options, certify, ref_option, when
from admin.commands.cert_queue import register_queue
from admin.commands.cert_request import read_request, register_request
from admin.commands.keys import (
    add_passphrase_options,
    read_private_key,
    read_public_key_file,
)
from admin.commands.registry_access import Registry, server_option, server_options
from admin.context import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    CommandContext,
)
from admin.parsing import add_command, add_group
from protocol.constants import (
    TYPE_HS_CERT,
    TYPE_HS_SIGNATURE,
)
from protocol.values import HandleValue
from registry.errors import HandleNotFound
from registry.names import name_key, prefix_handle
from registry.trust.certs import (
    DEFAULT_REVOCATION_INDEX,
    TYPE_HS_REVOCATION,
    SignedValue,
    issue_revocation,
    signed_values,
)
from registry.trust.claims import (
    ValueRef,
)
from registry.trust.keys import PublicKey, jwk_thumbprint
from registry.trust.signatures import next_free_index


async def issue(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Write an HS_CERT for ``--subject`` on the subject's handle."""
    if args.request:
        if args.subject or args.subject_key:
            raise CliError("--request names the subject and its key: drop --subject and "
                           "--subject-key", EXIT_USAGE)
        subject, subject_key = read_request(Path(args.request))
    elif args.subject and args.subject_key:
        subject = ref_option(args.subject, "--subject")
        subject_key = read_public_key_file(ctx.config.path(Path(args.subject_key)), args)
    else:
        raise CliError("give --subject and --subject-key, or --request FILE", EXIT_USAGE)
    ctx.out.result(await certify(ctx, args, Registry(ctx, args), subject, subject_key))
    return EXIT_OK


async def _subject_values(registry: Registry, subject: ValueRef) -> list[HandleValue]:
    """The values of the subject's handle: at ``--server``, or when that server does not
    hold it (a delegated prefix's handle is at the parent, not the root) in this node's
    registry, where ``cert issue`` wrote the certificate being revoked."""
    try:
        return await registry.values(subject.handle)
    except HandleNotFound:
        if registry.server is None:
            raise
        here = argparse.Namespace(server=None, timeout=registry.args.timeout)
        local = Registry(registry.ctx, here)
        return await local.values(subject.handle)


def _elsewhere_too(ctx: CommandContext, handle: str, where: str) -> str:
    """A reminder when a revocation was written here on this node's own prefix handle,
    which the world resolves at the root: it counts there only once written there."""
    root = ctx.config.root_address
    own = {name_key(prefix_handle(p)) for p in ctx.config.prefixes}
    if where != "local" or not root or ctx.config.role == "root" or name_key(handle) not in own:
        return ""
    return (f"\nnote: clients resolve {handle} at the root {root}: write the revocation "
            f"there too (the same command with --server {root})")


async def _revoked_keys(
    registry: Registry, args: argparse.Namespace, issuer: ValueRef
) -> list[PublicKey]:
    keys = [read_public_key_file(registry.ctx.config.path(Path(f)), args)
            for f in args.revoked_key or ()]
    for text in args.subject or ():
        subject = ref_option(text, "--subject")
        certs = [
            c for c in signed_values(subject.handle, await _subject_values(registry, subject),
                                     TYPE_HS_CERT)
            if ValueRef.parse(c.claims.iss).same(issuer)
            and ValueRef.parse(c.claims.sub).same(subject) and c.claims.public_key is not None
        ]
        if not certs:
            raise CliError(f"no HS_CERT by {issuer} for {subject} on {subject.handle}")
        keys += [c.claims.public_key for c in certs if c.claims.public_key is not None]
    if not keys:
        raise CliError("name what to revoke with --subject or --revoked-key", EXIT_USAGE)
    return keys


async def revoke(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Add an HS_REVOCATION listing keys to the issuer's handle."""
    issuer = ref_option(args.issuer, "--issuer")
    issuer_key = read_private_key(ctx.config.path(Path(args.issuer_key)), args)
    registry = Registry(ctx, args)
    keys = await _revoked_keys(registry, args, issuer)
    existing = await registry.values(issuer.handle)
    index = args.index or next_free_index(existing, DEFAULT_REVOCATION_INDEX)
    value = issue_revocation(
        issuer.handle, issuer.index, issuer_key, keys, int(time.time()), index=index
    )
    await registry.put(issuer.handle, value, existing)
    revoked = sorted({jwk_thumbprint(k) for k in keys})
    ctx.out.result({"handle": issuer.handle, "index": index, "issuer": str(issuer),
                    "revoked": revoked, "written": registry.where},
                   f"HS_REVOCATION {index} on {issuer.handle} ({registry.where}): {issuer} "
                   f"revoked {', '.join(revoked)}"
                   + _elsewhere_too(ctx, issuer.handle, registry.where))
    return EXIT_OK


def _row(value: SignedValue, value_type: str) -> dict[str, Any]:
    claims = value.claims
    return {
        "index": value.index, "type": value_type, "issuer": claims.iss, "subject": claims.sub,
        "issued": when(claims.iat), "not_before": when(claims.nbf),
        "expires": when(claims.exp),
        "key": jwk_thumbprint(claims.public_key) if claims.public_key is not None else None,
        "perms": [f"{p.perm} {p.handle}" for p in claims.perms or ()],
        "revoked": list(claims.revoked or ()),
    }


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """List the HS_CERT, HS_REVOCATION and HS_SIGNATURE values of a handle, decoded."""
    values = await Registry(ctx, args).values(args.handle)
    rows = [
        _row(v, value_type)
        for value_type in (TYPE_HS_CERT, TYPE_HS_REVOCATION, TYPE_HS_SIGNATURE)
        for v in signed_values(args.handle, values, value_type)
    ]
    ctx.out.result(rows, None if rows else f"{args.handle} has no certificates or signatures")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cert`` command group."""
    group = add_group(subparsers, "cert", "Certificates (HS_CERT) and revocations.")
    register_fetch(group)
    register_request(group)
    register_queue(group)
    parser = add_command(
        group, "issue", issue, summary="Certify a subject's key with an HS_CERT on its handle.",
        writes=True,
        examples="  idnode cert issue --issuer-key node.pem --issuer 300:0.NA/88.118 \\\n"
        "      --subject 300:0.NA/88.118.8 --subject-key acme.pem.pub --days 180\n"
        "  idnode cert issue --issuer-key node.pem --issuer 300:0.NA/88.118 \\\n"
        "      --request acme.certreq --days 180          # approve a request",
    )
    add_issue_options(parser)
    parser.add_argument("--subject", metavar="INDEX:HANDLE",
                        help="who is certified; the HS_CERT goes on HANDLE")
    parser.add_argument("--subject-key", metavar="FILE",
                        help="the subject's public key (PEM, HS_PUBKEY data or private PEM)")
    parser.add_argument("--request", metavar="FILE",
                        help="approve a certificate request made with 'idnode cert request' "
                        "(gives the subject and its key, checked to be signed by that key)")
    server_options(parser)

    parser = add_command(
        group, "revoke", revoke, writes=True,
        summary="Revoke keys the issuer certified (HS_REVOCATION on the issuer's handle).",
        examples="  idnode cert revoke --issuer-key node.pem --issuer 300:0.NA/88.118 \\\n"
        "      --subject 300:0.NA/88.118.8\n"
        "  idnode cert revoke --issuer-key node.pem --issuer 300:0.NA/88.118 "
        "--revoked-key old.pem.pub",
    )
    parser.add_argument("--issuer-key", required=True, metavar="FILE",
                        help="the issuer's private key (PEM)")
    parser.add_argument("--issuer", required=True, metavar="INDEX:HANDLE", help="the issuer")
    parser.add_argument("--subject", action="append", metavar="INDEX:HANDLE",
                        help="revoke the key the issuer certified for this subject (repeatable)")
    parser.add_argument("--revoked-key", action="append", metavar="FILE",
                        help="revoke this public key (repeatable)")
    parser.add_argument("--index", type=int,
                        help=f"value index (default: the first free from "
                        f"{DEFAULT_REVOCATION_INDEX})")
    add_passphrase_options(parser, "the issuer key")
    server_options(parser)

    parser = add_command(
        group, "show", show,
        summary="Show a handle's certificates, revocations and signatures, decoded.",
        examples="  idnode cert show 0.NA/88.118.8\n  idnode --json cert show 88.118.8/TV-0000001",
    )
    parser.add_argument("handle")
    server_option(parser)
