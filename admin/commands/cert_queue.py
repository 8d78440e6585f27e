"""``idnode cert submit|requests|approve|reject``: the review queue of certificate requests.

An enterprise's request (``idnode cert request``) is queued here with ``cert
submit FILE`` (or ``cert request --submit``), or over REST with ``POST
/api/cert-requests``; an operator lists the queue and decides each request
once.  ``cert approve`` issues the HS_CERT exactly as ``cert issue --request``
and the console's approve button (:mod:`registry.cert_issuance`) and records
the decision and its ``cert.approve`` audit entry in the same transaction as
the certificate;
``cert reject --reason`` records ``cert.reject``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from admin.commands.cert_issue import add_issue_options, issuer_options, write_out
from admin.commands.keys import read_file
from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from registry.cert_issuance import approve_cert_request
from registry.errors import InvalidArgument, NotFound
from registry.models import CERT_REQUEST_STATES
from registry.trust.requests import MAX_REQUEST_BYTES


async def submit_text(ctx: CommandContext, text: str, source: str) -> dict[str, object]:
    """Queue the request ``text`` (from ``source``, named in errors) in this registry."""
    async with ctx.store() as store:
        try:
            info = await store.submit_cert_request(text, actor=ctx.actor,
                                                   now=int(time.time()))
        except InvalidArgument as exc:
            raise CliError(f"{source}: {exc}", EXIT_USAGE) from None
    return info.to_json()


async def submit(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Queue a request file for review."""
    data = read_file(Path(args.request), "certificate request")
    if len(data) > MAX_REQUEST_BYTES:
        raise CliError(f"{args.request}: more than {MAX_REQUEST_BYTES} bytes: not a request",
                       EXIT_USAGE)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise CliError(f"{args.request}: not a certificate request (not ASCII)",
                       EXIT_USAGE) from None
    row = await submit_text(ctx, text, args.request)
    ctx.out.result(row, f"certificate request {row['id']} for {row['subject']} queued")
    return EXIT_OK


async def requests(ctx: CommandContext, args: argparse.Namespace) -> int:
    """List queued requests."""
    async with ctx.store() as store:
        rows = await store.list_cert_requests(state=args.state, enterprise=args.enterprise,
                                              limit=args.limit)
    ctx.out.result([r.to_json() for r in rows], None if rows else "no certificate requests")
    return EXIT_OK


async def approve(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Issue the HS_CERT a pending request asks for, and record the approval
    (:func:`registry.cert_issuance.approve_cert_request`, as the console does)."""
    issuer, issuer_key = issuer_options(ctx, args)
    async with ctx.store() as store:
        try:
            issued, _info = await approve_cert_request(
                store, args.id, issuer=issuer, issuer_key=issuer_key, days=args.days,
                actor=ctx.actor, reason=args.reason, index=args.index,
                derived_prefixes=not args.no_derived_prefixes)
        except (InvalidArgument, NotFound) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    write_out(args, issued)
    ctx.out.result({"request": args.id, **issued.to_json(), "written": "local"},
                   f"certificate request {args.id} approved: HS_CERT {issued.index} on "
                   f"{issued.handle}")
    return EXIT_OK


async def reject(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Refuse a pending request, with the reason the enterprise is told."""
    if not args.reason.strip():
        raise CliError("--reason must say why", EXIT_USAGE)
    async with ctx.store() as store:
        try:
            info = await store.decide_cert_request(args.id, "rejected", actor=ctx.actor,
                                                   reason=args.reason.strip())
        except (InvalidArgument, NotFound) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    ctx.out.result(info.to_json(), f"certificate request {args.id} rejected")
    return EXIT_OK


def register_queue(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cert submit``, ``requests``, ``approve`` and ``reject`` to the ``cert`` group."""
    parser = add_command(
        group, "submit", submit, writes=True,
        summary="Queue a certificate request file for review on this node.",
        examples="  idnode cert submit acme.certreq",
    )
    parser.add_argument("request", metavar="FILE", help="a file from 'idnode cert request'")

    parser = add_command(
        group, "requests", requests, summary="List queued certificate requests.",
        examples="  idnode cert requests --state pending",
    )
    parser.add_argument("--state", choices=CERT_REQUEST_STATES, help="only this state")
    parser.add_argument("--enterprise", metavar="CODE", help="only this enterprise's")
    parser.add_argument("--limit", type=int, default=100, help="at most this many (<= 1000)")

    parser = add_command(
        group, "approve", approve, writes=True,
        summary="Approve a queued request: issue its HS_CERT (as 'cert issue --request').",
        examples="  idnode cert approve 7 --issuer-key keys/node.pem --issuer 300:0.NA/88.118 "
        "--days 180",
    )
    parser.add_argument("id", type=int, help="the request id ('idnode cert requests')")
    add_issue_options(parser)
    parser.add_argument("--reason", default="", help="a note kept with the decision")
    parser.set_defaults(server=None, timeout=5.0)

    parser = add_command(
        group, "reject", reject, writes=True, summary="Reject a queued certificate request.",
        examples="  idnode cert reject 7 --reason '主体与营业执照不符 / subject does not match'",
    )
    parser.add_argument("id", type=int, help="the request id")
    parser.add_argument("--reason", required=True, help="why (kept and audited)")
