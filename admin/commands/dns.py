"""``idnode dns name|handle``: show the handle <-> DNS name mapping of the DNS bridge."""

from __future__ import annotations

import argparse

from admin.context import EXIT_OK, CliError, CommandContext
from admin.parsing import add_command, add_group
from resolver.dns.names import DnsNameError, handle_to_name, name_to_handle


async def show_name(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Print the DNS name of a handle under the configured zone."""
    zone = args.zone or ctx.config.dns_zone
    try:
        name = handle_to_name(args.handle, zone).to_text()
    except DnsNameError as exc:
        raise CliError(f"{args.handle}: {exc}") from exc
    ctx.out.result({"handle": args.handle, "name": name, "zone": zone}, text=name)
    return EXIT_OK


async def show_handle(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Print the handle a DNS name under the configured zone stands for."""
    zone = args.zone or ctx.config.dns_zone
    try:
        handle = name_to_handle(args.name, zone)
    except DnsNameError as exc:
        raise CliError(f"{args.name}: {exc}") from exc
    ctx.out.result({"handle": handle, "name": args.name, "zone": zone}, text=handle)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dns name`` and ``dns handle``."""
    group = add_group(subparsers, "dns", "Show how handles map to DNS names.")
    name = add_command(
        group, "name", show_name, summary="The DNS name of a handle.",
        examples="  idnode dns name 88.118.8/TV-0000001\n"
        "  idnode dns name '88.118.8/Ünïcode #1' --zone id.example.",
    )
    name.add_argument("handle")
    name.add_argument("--zone", help="DNS zone (default: the dns_zone setting)")
    handle = add_command(
        group, "handle", show_handle, summary="The handle a DNS name stands for.",
        examples="  idnode dns handle tv-0000001._.8.118.88.id.local.",
    )
    handle.add_argument("name")
    handle.add_argument("--zone", help="DNS zone (default: the dns_zone setting)")
