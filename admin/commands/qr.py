"""``idnode qr HANDLE``: the QR code of a product's page, for labels (SVG or PNG).

The code carries ``{public_http_url}/{HANDLE}`` (``--base-url`` to print for
another address), drawn by :mod:`resolver.http.qr` as the node's
``/{handle}/qr.svg`` serves it.  The handle must exist in this registry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from admin.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from resolver.http.qr import DEFAULT_SCALE, MAX_SCALE, QrError, QrOptions, page_url, qr_code


async def qr(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Write the QR code of HANDLE's page to --out (or SVG to stdout)."""
    kind = args.format or (Path(args.out).suffix.lstrip(".").lower() if args.out else "svg")
    try:
        options = QrOptions(kind, args.scale, args.level.upper())
    except QrError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if options.kind == "png" and not args.out:
        raise CliError("a PNG goes to a file: add --out FILE.png", EXIT_USAGE)
    async with ctx.store() as store:
        if await store.get_handle(args.handle) is None:
            raise CliError(f"{args.handle}: not found in this registry", EXIT_FAILED)
    url = page_url(args.base_url or ctx.config.public_http_url, args.handle)
    body = qr_code(url, options)
    if args.out:
        _save(Path(args.out), body)
        ctx.out.result({"handle": args.handle, "url": url, "file": args.out},
                       text=f"{args.out}: QR code of {url}")
    else:
        sys.stdout.write(body.decode("utf-8") + "\n")
    return EXIT_OK


def _save(path: Path, body: bytes) -> None:
    path.write_bytes(body)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``qr``."""
    parser = add_command(
        subparsers, "qr", qr,
        summary="The QR code of a product's page (SVG or PNG), for labels.",
        examples="  idnode qr 88.118.8/TV-0000001 > tv.svg\n"
        "  idnode qr 88.118.8/TV-0000001 --out tv.png --scale 10 --level Q\n"
        "  idnode qr 88.118.8/TV-0000001 --base-url https://id.example.cn",
    )
    parser.add_argument("handle")
    parser.add_argument("--out", metavar="FILE", help="write here (.svg or .png)")
    parser.add_argument("--format", choices=("svg", "png"), help="default: from --out, else svg")
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE,
                        help=f"pixels per module, 1-{MAX_SCALE} (default {DEFAULT_SCALE})")
    parser.add_argument("--level", default="M",
                        help="error correction L, M (default), Q or H")
    parser.add_argument("--base-url", help="page address (default: public_host and http_port)")
