"""``idnode prefix create|delegate|list|show|remove|home|unhome``: the prefixes this node serves
or refers (``home``/``unhome`` as CNRI's ``hdl-home-na``, see :mod:`registry.homing`)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command, add_group
from admin.values import print_record
from protocol.values import HandleValue
from registry import homing
from registry.bootstrap import delegate_prefix, enterprise_prefix_values
from registry.config import ConfigError, parse_host_port
from registry.names import name_key, prefix_handle
from registry.records import PrefixInfo
from registry.store import HandleStore
from resolver.core.site import build_site_info, site_info_value


def parse_server(text: str) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[addr]:port``) as ``(ip, port)``; host names are looked up."""
    try:
        host, port = parse_host_port(text, "--server")
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise CliError(f"--server {text}: cannot resolve {host}: {exc}", EXIT_USAGE) from None
    return str(infos[0][4][0]), port


def referral_site(servers: list[str]) -> HandleValue:
    """The HS_SITE value naming ``servers`` (one site, every server in it)."""
    addresses = [parse_server(s) for s in servers]
    return site_info_value(build_site_info(addresses, description="delegated"))


async def _require_enterprise(store: HandleStore, code: str | None) -> None:
    if code is not None and await store.get_enterprise(code) is None:
        raise CliError(f"no enterprise {code}")


async def _get_prefix(store: HandleStore, prefix: str) -> PrefixInfo:
    info = await store.get_prefix(prefix)
    if info is None:
        raise CliError(f"no prefix {prefix}")
    return info


def prefix_row(info: PrefixInfo, count: int) -> dict[str, Any]:
    """A prefix as a table row."""
    return {"prefix": info.name, "kind": info.kind, "owner": info.owner, "status": info.status,
            "handles": count, "created": info.created.isoformat(timespec="seconds")}


async def create(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Register a hosted prefix and write its prefix handle."""
    async with ctx.store() as store:
        await _require_enterprise(store, args.enterprise)
        async with store.transaction():  # both or nothing
            info = await store.create_prefix(args.prefix, kind="hosted", owner=args.enterprise)
            values = enterprise_prefix_values(info.name, ctx.node_prefix, ctx.site_value())
            await store.replace_handle(prefix_handle(info.name), values, actor=ctx.actor)
    ctx.out.result(prefix_row(info, 0) | {"prefix_handle": prefix_handle(info.name)})
    return EXIT_OK


async def delegate(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Point a prefix at an enterprise's own Handle servers."""
    site = referral_site(args.server)
    async with ctx.store() as store:
        await _require_enterprise(store, args.enterprise)
        record = await delegate_prefix(store, args.prefix, site, node_prefix=ctx.node_prefix,
                                       owner=args.enterprise, actor=ctx.actor)
    ctx.out.result(
        {"prefix": args.prefix, "kind": "delegated", "prefix_handle": record.name,
         "servers": args.server},
        f"{args.prefix} delegated to {', '.join(args.server)} ({record.name} HS_SITE updated)",
    )
    return EXIT_OK


async def list_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """The registered prefixes with their handle counts."""
    async with ctx.store() as store:
        prefixes = await store.list_prefixes(owner=args.enterprise, kind=args.kind)
        rows = [prefix_row(p, await store.count_handles(p.name)) for p in prefixes]
    ctx.out.result(rows)
    return EXIT_OK


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """One prefix and its prefix handle's values."""
    async with ctx.store() as store:
        info = await _get_prefix(store, args.prefix)
        count = await store.count_handles(info.name)
        record = await store.get_handle(prefix_handle(info.name))
    row = prefix_row(info, count) | {"prefix_handle": prefix_handle(info.name)}
    print_record(ctx.out, row, record.values if record else ())
    return EXIT_OK


async def remove(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Forget a prefix and delete its prefix handle (refused while it holds handles)."""
    async with ctx.store() as store:
        info = await _get_prefix(store, args.prefix)
        if name_key(info.name) in {name_key(p) for p in ctx.config.prefixes}:
            raise CliError(f"{info.name} is this node's own prefix")
        count = await store.count_handles(info.name)
        if count and not args.force:
            raise CliError(f"prefix {info.name} still holds {count} handles (use --force)")
        await store.delete_prefix(info.name)
        if await store.get_handle(prefix_handle(info.name)) is not None:
            await store.delete_handle(prefix_handle(info.name), actor=ctx.actor)
    ctx.out.result({"prefix": info.name, "removed": True, "handles_left": count},
                   f"prefix {info.name} removed" + (f" ({count} handles kept)" if count else ""))
    return EXIT_OK


def _named_prefix(text: str) -> str:
    try:
        return homing.prefix_of(text)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


async def home(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Serve a prefix (OC_HOME_NA): register it as hosted, touching no handle."""
    prefix = _named_prefix(args.prefix)
    async with ctx.store() as store:
        await homing.home(store, prefix, actor=ctx.actor)
    ctx.out.result({"prefix": prefix, "homed": True}, f"prefix {prefix} homed")
    return EXIT_OK


async def unhome(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Stop serving a prefix (OC_UNHOME_NA); its handles stay."""
    prefix = _named_prefix(args.prefix)
    if name_key(prefix) in {name_key(p) for p in ctx.config.prefixes}:
        raise CliError(f"{prefix} is this node's own prefix")
    async with ctx.store() as store:
        await homing.unhome(store, prefix, actor=ctx.actor)
    ctx.out.result({"prefix": prefix, "homed": False}, f"prefix {prefix} unhomed")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``prefix`` command group."""
    group = add_group(subparsers, "prefix", "Manage the prefixes this node hosts or delegates.")
    parser = add_command(group, "create", create, writes=True,
                         summary="Register a hosted prefix and create its prefix handle.",
                         examples="  idnode prefix create 88.118.20 --enterprise ACME")
    parser.add_argument("prefix", help="the prefix, e.g. 88.118.20")
    parser.add_argument("--enterprise", help="owning enterprise code")

    parser = add_command(
        group, "delegate", delegate, writes=True,
        summary="Refer a prefix to an enterprise's own Handle servers (HS_SITE referral).",
        examples="  idnode prefix delegate 88.118.9 --server 10.0.0.9:2641\n"
        "  idnode prefix delegate 88.118.9 --server 10.0.0.9:2641 --server 10.0.0.10:2641 "
        "--enterprise TAISHAN",
    )
    parser.add_argument("prefix", help="the prefix to delegate")
    parser.add_argument("--server", action="append", required=True, metavar="HOST:PORT",
                        help="a server of the enterprise's site (repeatable)")
    parser.add_argument("--enterprise", help="owning enterprise code")

    parser = add_command(group, "list", list_, summary="List the registered prefixes.",
                         examples="  idnode prefix list\n  idnode prefix list --kind delegated")
    parser.add_argument("--enterprise", help="only the prefixes of this enterprise")
    parser.add_argument("--kind", choices=("hosted", "delegated", "root-managed"))

    parser = add_command(group, "show", show, summary="Show a prefix and its prefix handle.",
                         examples="  idnode prefix show 88.118.8")
    parser.add_argument("prefix")

    parser = add_command(group, "remove", remove, writes=True,
                         summary="Forget a prefix and delete its prefix handle.",
                         examples="  idnode prefix remove 88.118.20\n"
                         "  idnode prefix remove 88.118.20 --force")
    parser.add_argument("prefix")
    parser.add_argument("--force", action="store_true",
                        help="remove even though handles under it remain (they are kept)")

    parser = add_command(group, "home", home, writes=True,
                         summary="Serve a prefix (as CNRI hdl-home-na; no handle is written).",
                         examples="  idnode prefix home 88.118.20\n"
                         "  idnode prefix home 0.NA/88.118.20")
    parser.add_argument("prefix", help="the prefix, with or without 0.NA/")

    parser = add_command(group, "unhome", unhome, writes=True,
                         summary="Stop serving a prefix (its handles stay).",
                         examples="  idnode prefix unhome 88.118.20")
    parser.add_argument("prefix", help="the prefix, with or without 0.NA/")
