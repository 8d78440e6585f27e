"""``idnode enterprise add|list|show|suspend|resume|quota|sub-prefixes|credentials|partners``.

An enterprise gets a hosted prefix under the node prefix (``88.118.N``) and
its prefix handle ``0.NA/88.118.N``, whose HS_ADMIN names the enterprise admin
``0.NA/88.118.N``:300.  ``credentials`` puts the admin's key at index 300: a
fresh secret key (HS_SECKEY, shown once) or a public key the enterprise sent.
``partners CODE grant|revoke OTHER`` lets another enterprise read CODE's
partners-only values (:mod:`registry.partners`), ``partners CODE list`` shows them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.output import fields, table
from admin.parsing import add_command, add_group
from admin.values import ValueSyntaxError, public_key_bytes
from registry.bootstrap import (
    CREDENTIAL_INDEX,
    check_enterprise_prefix,
    enterprise_prefix,
    issue_secret_key,
    next_enterprise_prefix,
    onboard_enterprise,
    register_public_key,
    set_sub_prefixes,
)
from registry.models import INDUSTRIES
from registry.names import prefix_handle
from registry.records import EnterpriseInfo
from registry.store import HandleStore


def enterprise_row(info: EnterpriseInfo, count: int | None = None) -> dict[str, Any]:
    """An enterprise as a table row."""
    row: dict[str, Any] = {"code": info.code, "name": info.name, "industry": info.industry,
                           "status": info.status,
                           "quota": "unlimited" if info.quota is None else info.quota}
    if count is not None:
        row["handles"] = count
    return row


async def _get(store: HandleStore, code: str) -> EnterpriseInfo:
    info = await store.get_enterprise(code)
    if info is None:
        raise CliError(f"no enterprise {code}")
    return info


async def _count(store: HandleStore, code: str) -> int:
    return sum([await store.count_handles(p.name) for p in await store.list_prefixes(owner=code)])


async def add(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Register an enterprise with its hosted prefix and prefix handle."""
    async with ctx.store() as store:
        prefix = args.prefix or await next_enterprise_prefix(store, ctx.node_prefix)
        check_enterprise_prefix(prefix, ctx.node_prefix)
        if await store.get_prefix(prefix) is not None:
            raise CliError(f"prefix {prefix} is already registered")
        # one transaction: a failure (the prefix handle exists already...) leaves nothing
        async with store.transaction():
            info = await store.add_enterprise(args.code, args.name, industry=args.industry,
                                              quota=args.quota)
            await onboard_enterprise(store, info, prefix, node_prefix=ctx.node_prefix,
                                     site=ctx.site_value(), actor=ctx.actor,
                                     sub_prefixes=args.sub_prefixes)
    result = enterprise_row(info) | {
        "prefix": prefix, "prefix_handle": prefix_handle(prefix),
        "admin": f"{CREDENTIAL_INDEX}:{prefix_handle(prefix)}",
    }
    ctx.out.result(result, fields(result) + f"\n\nnext: idnode enterprise credentials {info.code}")
    return EXIT_OK


async def list_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Every enterprise with its handle count."""
    del args
    async with ctx.store() as store:
        rows = [enterprise_row(e, await _count(store, e.code))
                for e in await store.list_enterprises()]
    ctx.out.result(rows)
    return EXIT_OK


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """One enterprise: details, prefixes and credentials."""
    async with ctx.store() as store:
        info = await _get(store, args.code)
        prefixes = await store.list_prefixes(owner=info.code)
        credentials = await store.list_credentials(enterprise=info.code)
        count = await _count(store, info.code)
    head = enterprise_row(info, count) | {"created": info.created.isoformat(timespec="seconds")}
    prefix_rows = [{"prefix": p.name, "kind": p.kind, "status": p.status} for p in prefixes]
    credential_rows = [{"id": c.id, "admin": f"{c.admin_index}:{c.admin_handle}", "kind": c.kind,
                        "created": c.created.isoformat(timespec="seconds")} for c in credentials]
    data = head | {"prefixes": prefix_rows, "credentials": credential_rows}
    ctx.out.result(data, "\n\n".join([fields(head), table(prefix_rows), table(credential_rows)]))
    return EXIT_OK


async def _set_status(ctx: CommandContext, code: str, status: str) -> int:
    async with ctx.store() as store:
        await _get(store, code)
        await store.set_enterprise_status(code, status)
    ctx.out.result({"code": code, "status": status}, f"enterprise {code} is now {status}")
    return EXIT_OK


async def suspend(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Suspend an enterprise: its handles can no longer be written."""
    return await _set_status(ctx, args.code, "suspended")


async def resume(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Make a suspended enterprise active again."""
    return await _set_status(ctx, args.code, "active")


async def quota(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Set an enterprise's identifier quota (``unlimited`` removes it)."""
    if args.limit == "unlimited":
        limit: int | None = None
    elif args.limit.isdigit():
        limit = int(args.limit)
    else:
        raise CliError(f"quota must be a number or 'unlimited', got {args.limit!r}", EXIT_USAGE)
    async with ctx.store() as store:
        await _get(store, args.code)
        await store.set_enterprise_quota(args.code, limit)
    shown = "unlimited" if limit is None else limit
    ctx.out.result({"code": args.code, "quota": shown}, f"quota of {args.code}: {shown}")
    return EXIT_OK


async def sub_prefixes(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Let an enterprise's admin create derived prefixes, or stop it."""
    allowed = args.setting == "allow"
    async with ctx.store() as store:
        info = await _get(store, args.code)
        prefix = args.prefix or await enterprise_prefix(store, info.code)
        await set_sub_prefixes(store, info.code, prefix, allowed, actor=ctx.actor)
    result = {"enterprise": info.code, "prefix": prefix, "sub_prefixes": args.setting}
    ctx.out.result(result, f"{info.code} may {'now' if allowed else 'no longer'} create "
                   f"prefixes under {prefix}")
    return EXIT_OK


async def credentials(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Issue a secret key for the enterprise admin, or register its public key."""
    pubkey = None
    if args.secret_only and args.public_key:
        raise CliError("--secret-only issues a secret key: it cannot go with --public-key",
                       EXIT_USAGE)
    if args.public_key:
        try:
            pubkey = public_key_bytes(Path(args.public_key))
        except (OSError, ValueSyntaxError) as exc:
            raise CliError(f"cannot use {args.public_key}: {exc}") from None
    async with ctx.store() as store:
        info = await _get(store, args.code)
        prefix = args.prefix or await enterprise_prefix(store, info.code)
        if pubkey is not None:
            cred = await register_public_key(store, info.code, prefix, pubkey, actor=ctx.actor,
                                             index=args.index, node_prefix=ctx.node_prefix)
            secret = None
        else:
            secret, cred = await issue_secret_key(store, info.code, prefix, actor=ctx.actor,
                                                  hashed=args.hashed, index=args.index,
                                                  node_prefix=ctx.node_prefix)
    result: dict[str, Any] = {"enterprise": info.code, "admin_handle": cred.admin_handle,
                              "admin_index": cred.admin_index, "kind": cred.kind,
                              "credential_id": cred.id}
    text = fields(result)
    if secret is not None and args.secret_only:
        ctx.out.result(secret, secret)
        return EXIT_OK
    if secret is not None:
        result["secret_key"] = secret
        result["hashed"] = args.hashed
        text += (f"\n\nsecret key (shown once, store it now): {secret}\n"
                 f"authenticate as {cred.admin_index}:{cred.admin_handle}"
                 + (" using the client's 'hashed secret key' option" if args.hashed else ""))
    ctx.out.result(result, text)
    return EXIT_OK


async def partners(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Grant, revoke or list the enterprises that may read CODE's partners-only values."""
    if args.action != "list" and not args.other:
        raise CliError(f"enterprise partners {args.code} {args.action} needs the other "
                       "enterprise's code", EXIT_USAGE)
    async with ctx.store() as store:
        info = await _get(store, args.code)
        if args.action == "grant":
            await _get(store, args.other)
            await store.grant_partner(info.code, args.other, actor=ctx.actor)
        elif args.action == "revoke":
            await store.revoke_partner(info.code, args.other, actor=ctx.actor)
        found = await store.list_partners(info.code)
    rows = [{"partner": p.code, "name": p.name,
             "since": p.created.isoformat(timespec="seconds")} for p in found]
    head = {"grant": f"{args.other} may now read {info.code}'s partners-only values",
            "revoke": f"{args.other} may no longer read {info.code}'s partners-only values",
            "list": f"partners of {info.code}:"}[args.action]
    ctx.out.result({"enterprise": info.code, "partners": rows},
                   head + "\n" + (table(rows) if rows else "(none)"))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``enterprise`` command group."""
    group = add_group(subparsers, "enterprise", "Onboard and manage enterprises.")
    parser = add_command(
        group, "add", add, writes=True,
        summary="Register an enterprise with a hosted prefix and its prefix handle.",
        examples='  idnode enterprise add ACME --name "ACME Appliances" --industry appliance\n'
        '  idnode enterprise add TYRES --name "Tyre Works" --industry rubber '
        "--prefix 88.118.30 --quota 100000",
    )
    parser.add_argument("code", help="short enterprise code, e.g. ACME")
    parser.add_argument("--name", required=True, help="the enterprise's full name")
    parser.add_argument("--industry", choices=INDUSTRIES, default="other")
    parser.add_argument("--prefix", help="its prefix (default: the next free <node prefix>.N)")
    parser.add_argument("--quota", type=int, help="most identifiers it may hold (default: none)")
    parser.add_argument("--sub-prefixes", action="store_true",
                        help="let its admin create derived prefixes (ADD_NA; default: not)")

    add_command(group, "list", list_, summary="List the enterprises.",
                examples="  idnode enterprise list\n  idnode --json enterprise list")

    for name, handler, summary in (
        ("show", show, "Show an enterprise with its prefixes and credentials."),
        ("suspend", suspend, "Suspend an enterprise: its identifiers become read-only."),
        ("resume", resume, "Make a suspended enterprise active again."),
    ):
        parser = add_command(group, name, handler, summary=summary,
                             examples=f"  idnode enterprise {name} ACME")
        parser.add_argument("code")

    parser = add_command(group, "quota", quota, summary="Set an enterprise's identifier quota.",
                         examples="  idnode enterprise quota ACME 500000\n"
                         "  idnode enterprise quota ACME unlimited")
    parser.add_argument("code")
    parser.add_argument("limit", help="a number of identifiers, or 'unlimited'")

    parser = add_command(
        group, "sub-prefixes", sub_prefixes, writes=True,
        summary="Allow or deny an enterprise admin creating derived prefixes (ADD_NA).",
        examples="  idnode enterprise sub-prefixes ACME allow\n"
        "  idnode enterprise sub-prefixes ACME deny --prefix 88.118.8",
    )
    parser.add_argument("code")
    parser.add_argument("setting", choices=("allow", "deny"))
    parser.add_argument("--prefix", help="which of its prefixes (default: its first)")

    parser = add_command(
        group, "credentials", credentials, writes=True,
        summary="Issue the enterprise admin a secret key (shown once) or register its public key.",
        examples="  idnode enterprise credentials ACME\n"
        "  idnode enterprise credentials ACME --hashed\n"
        "  SECRET=$(idnode enterprise credentials ACME --secret-only)\n"
        "  idnode enterprise credentials ACME --public-key acme_admin_pub.pem",
    )
    parser.add_argument("code")
    parser.add_argument("--public-key", metavar="FILE",
                        help="register this PEM public key (or HS_PUBKEY bytes) instead")
    parser.add_argument("--secret-only", action="store_true",
                        help="print only the new secret key (for SECRET=$(...) in scripts)")
    parser.add_argument("--hashed", action="store_true",
                        help="store CNRI's hashed form (SHA-1 hex) of the secret key")
    parser.add_argument("--index", type=int, default=CREDENTIAL_INDEX,
                        help=f"value index of the key (default {CREDENTIAL_INDEX})")
    parser.add_argument("--prefix", help="which of its prefixes (default: its first)")

    parser = add_command(
        group, "partners", partners, writes=True,
        summary="Grant, revoke or list partner access to an enterprise's partners-only values.",
        examples="  idnode enterprise partners HAIYUE grant TAISHAN\n"
        "  idnode enterprise partners HAIYUE list\n"
        "  idnode enterprise partners HAIYUE revoke TAISHAN",
    )
    parser.add_argument("code", help="the enterprise whose values are shared")
    parser.add_argument("action", choices=("grant", "revoke", "list"))
    parser.add_argument("other", nargs="?", help="the partner enterprise (grant, revoke)")
