"""``idnode resolve HANDLE``: what a client asking this node (or another server) gets back.

HANDLE may also be another scheme's identifier that a record carries (a GS1
code in any spelling, an EPC URI, an OID: :mod:`registry.schemes`); it is
looked up in this node's identifier index and its handle resolved.

Without ``--server`` the question goes to this node's resolution service built
from its configuration, exactly as its servers answer (local registry,
referrals for delegated prefixes, recursion from ``root_address`` with
``--recursive``), as an anonymous client.  With ``--server HOST:PORT`` it is
asked over the Handle protocol; ``--recursive`` then lets that server follow
referrals, else a referral comes back as the answer.

``--verify`` adds the signature verdict of :mod:`resolver.core.verification`
(checked up to the configured trust anchor, or ``--trust-anchor FILE``); with
``--server`` the check is made here, client-side, on the record and certificate
chain resolved at that server over the Handle protocol (which carries no
verification result); ``--fresh`` asks that server with the AT (authoritative)
flag, which an idnode server answers without its cache, so a revocation written
at the issuer's authority counts at once (without ``--server`` the command's own
cache is empty anyway, and the chain's issuers are read afresh:
``revocation_ttl`` 0).  ``--trace`` adds the product's parts tree, where-used and
lifecycle events from :mod:`resolver.core.trace` (rendered as ``idnode trace
--all`` does); it works on this node's resolution service, so not with ``--server``.

Exit code 0 when values came back, 1 for not found / no values / a referral
not followed, 3 when the server could not be reached.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from admin.commands.keys import read_file
from admin.commands.prefix import parse_server
from admin.commands.trace import answer_text
from admin.context import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    CommandContext,
)
from admin.parsing import add_command
from admin.values import print_record
from protocol.constants import RC_ERROR, RC_SUCCESS, response_code_name
from registry.config import ConfigError
from registry.schemes import SchemeError, names_another_scheme
from registry.signing_policy import load_trust_anchor, read_public_key
from registry.trust.errors import TrustError
from registry.trust.keys import PublicKey
from resolver.core.assembly import build_service
from resolver.core.client import HandleClient, HandleClientError
from resolver.core.identifiers import IdentifierMatch, find_handle
from resolver.core.model import Resolution, ServiceError
from resolver.core.trace import Tracer, record_verifier
from resolver.core.verification import report_json, verify, verify_over_handle_protocol

REMOTE_TIMEOUT = 5.0


async def _local(
    ctx: CommandContext, args: argparse.Namespace
) -> tuple[Resolution, dict[str, Any]]:
    """The answer, and the verification / trace reports asked for."""
    # A one-shot command gains nothing from the shared Redis cache.
    config = dataclasses.replace(ctx.config, redis_url="")
    if args.fresh:
        config = dataclasses.replace(config, revocation_ttl=0)
    extra: dict[str, Any] = {}
    async with ctx.store() as store:
        service = await build_service(
            store, config, site_info=ctx.site_value(), trust=args.verify or args.trace
        )
        try:
            answer = await service.resolve(args.handle, types=args.type or (),
                                           indexes=args.index or (), recursive=args.recursive)
            if args.verify:
                report = await verify(service, args.handle, recursive=args.recursive)
                extra["verification"] = None if report is None else report_json(report)
            if args.trace:
                tracer = Tracer(service, verifier=record_verifier(service))
                extra["trace"] = await tracer.trace(args.handle, direction="all")
        except ServiceError as exc:
            code = EXIT_UNREACHABLE if exc.response_code == RC_ERROR else EXIT_FAILED
            raise CliError(f"{response_code_name(exc.response_code)}: {exc.message}", code
                           ) from None
        finally:
            await service.close()
    return answer, extra


def _anchor(ctx: CommandContext, args: argparse.Namespace) -> PublicKey | None:
    """``--trust-anchor``, else the node's configured trust anchor (None without one)."""
    if args.trust_anchor:
        path = Path(args.trust_anchor)
        try:
            return read_public_key(read_file(path, "trust anchor"))
        except TrustError as exc:
            raise CliError(f"--trust-anchor {path}: {exc}", EXIT_USAGE) from None
    try:
        return load_trust_anchor(ctx.config)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


async def _remote(
    ctx: CommandContext, args: argparse.Namespace
) -> tuple[Resolution, dict[str, Any]]:
    server = parse_server(args.server)
    anchor = _anchor(ctx, args) if args.verify else None
    client = HandleClient(timeout=REMOTE_TIMEOUT)
    extra: dict[str, Any] = {}
    try:
        answer = await client.resolve(args.handle, args.type or (), args.index or (),
                                      server=server, recursive=args.recursive)
    except HandleClientError as exc:
        if exc.response_code == RC_ERROR:
            raise CliError(f"no answer from {args.server}: {exc.message or exc}",
                           EXIT_UNREACHABLE) from None
        return Resolution(args.handle, exc.response_code, (), source=args.server), extra
    if args.verify:
        report = await verify_over_handle_protocol(client, server, args.handle, anchor,
                                                   fresh=args.fresh)
        extra["verification"] = None if report is None else report_json(report)
    return answer, extra


async def _handle_named_by(ctx: CommandContext, text: str) -> IdentifierMatch:
    """The handle that carries another scheme's identifier ``text`` in this registry."""
    async with ctx.store() as store:
        try:
            match = await find_handle(store, text)
        except SchemeError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    if match.handle is None:
        raise CliError(f"not found: {match.not_found_message()}", EXIT_FAILED)
    return match


async def resolve(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Resolve one handle (or the handle of a GS1 code / OID), locally or at ``--server``."""
    if args.server and args.trace:
        raise CliError("--trace uses this node's service: drop --server", EXIT_USAGE)
    if args.trust_anchor and not args.verify:
        raise CliError("--trust-anchor is for --verify", EXIT_USAGE)
    if args.fresh and not args.verify:
        raise CliError("--fresh is for --verify", EXIT_USAGE)
    extra: dict[str, Any] = {}
    if names_another_scheme(args.handle):
        if args.server:
            raise CliError(f"{args.handle!r} is not a handle: the Handle protocol (--server) "
                           "has no lookup by GS1 code or OID; resolve it here", EXIT_USAGE)
        match = await _handle_named_by(ctx, args.handle)
        args.handle = match.handle
        extra["identifier"] = {"scheme": match.identifier.scheme,
                               "key": match.identifier.key,
                               "display": match.identifier.display}
    answer, reports = await (_remote(ctx, args) if args.server else _local(ctx, args))
    extra |= reports
    head: dict[str, Any] = {
        "handle": answer.handle, "response_code": answer.response_code,
        "response": response_code_name(answer.response_code), "source": answer.source,
    }
    if answer.chain:
        head["chain"] = list(answer.chain)
    values = answer.values or answer.referral_values
    if answer.referral_values and not answer.values:
        head["referral"] = True
    if ctx.out.json_mode:
        print_record(ctx.out, head | extra, values)
    else:
        print_record(ctx.out, head, values)
        _print_reports(ctx, extra)
    if answer.response_code == RC_SUCCESS:
        return EXIT_OK
    # the answer above is the result; the reason it is not a success goes where errors go
    print(f"idnode: {answer.handle}: {response_code_name(answer.response_code)}",
          file=sys.stderr)
    return EXIT_FAILED


def _print_reports(ctx: CommandContext, extra: dict[str, Any]) -> None:
    if "identifier" in extra:
        ctx.out.result(None, f"\nfound by {extra['identifier']['display']} "
                             f"({extra['identifier']['key']})")
    if "verification" in extra:
        report = extra["verification"]
        if report is None:
            ctx.out.result(None, "\nverification: nothing to verify (no values)")
        else:
            failed = report["failedValues"]
            ctx.out.result(None, f"\nverification: {report['status']}"
                           + (f" - {report['reason']}" if report["reason"] else "")
                           + (f" (values {', '.join(map(str, failed))})" if failed else "")
                           + (f"; signer {report['signer']}" if report["signer"] else ""))
    if "trace" in extra:
        ctx.out.result(None, "\ntrace:\n" + answer_text(extra["trace"]))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``resolve``."""
    parser = add_command(
        subparsers, "resolve", resolve,
        summary="Resolve a handle as a client of this node (or of another server) sees it.",
        examples="  idnode resolve 88.118.8/TV-0000001\n"
        "  idnode resolve 88.118.8/TV-0000001 --type URL\n"
        "  idnode resolve 88.118.9/FL-0000004 --recursive\n"
        "  idnode resolve 88.118.8/TV-0000001 --server 127.0.0.1:2641\n"
        "  idnode resolve 88.118.8/TV-0000001 --verify --trace\n"
        "  idnode resolve 88.118.8/TV-0000001 --verify --server 127.0.0.1:2641 "
        "--trust-anchor root.pub\n"
        "  idnode resolve 88.118.8/TV-0000001 --verify --fresh --recursive "
        "--server 127.0.0.1:2641\n"
        "  idnode --json resolve 0.NA/88.118 --index 100\n"
        "  idnode resolve '(01)06901234567892(21)ABC123'       # a GS1 code on the record\n"
        "  idnode resolve urn:epc:id:sgtin:6901234.056789.ABC123\n"
        "  idnode resolve urn:oid:1.2.156.3001.1\n"
        "  idnode resolve 'ecode:1 0001 0000 0000 0000 0000 1234'   # an Ecode (GB/T 31866)",
    )
    parser.add_argument("handle", help="a handle, or a GS1 code / Digital Link / EPC URI / OID "
                                       "/ Ecode carried by a record (ID.GS1, ID.OID, "
                                       "ID.ECODE values)")
    parser.add_argument("--type", action="append", help="only values of this type (repeatable)")
    parser.add_argument("--index", action="append", type=int,
                        help="only the value at this index (repeatable)")
    parser.add_argument("--server", metavar="HOST:PORT",
                        help="ask this Handle server over the Handle protocol")
    parser.add_argument("--recursive", action="store_true",
                        help="follow referrals to the final answer")
    parser.add_argument("--verify", action="store_true",
                        help="check the record's signatures up to the trust anchor (with "
                        "--server: here, on what that server answers)")
    parser.add_argument("--trust-anchor", metavar="FILE",
                        help="the root's public key to verify up to (default: the node's "
                        "trust_anchor_path)")
    parser.add_argument("--fresh", action="store_true",
                        help="with --verify: the record and its chain not from caches (with "
                        "--server: asked with the AT flag), so a revocation counts at once")
    parser.add_argument("--trace", action="store_true",
                        help="show the product's parts tree, where-used and events")
