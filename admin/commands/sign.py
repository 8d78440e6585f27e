"""``idnode sign``: an enterprise signs its own records with its own key.

The enterprise keeps its private key (encrypted; ``--passphrase-env`` /
``--passphrase-file``); the node never needs it.  The selection and signing are
:mod:`registry.record_signing` (shared with the portal's Sign records page).
For each handle the command
computes an HS_SIGNATURE value (Handle 9 semantics, :mod:`registry.trust.signatures`:
a JWS over the digests of every other public value, claims ``iss``, ``sub``,
``iat``, ``nbf``, ``exp``, ``digests`` and ``chain``) and writes it at the index of the
signer's earlier signature, else the first free one from 400.  The signer is the
value reference the key is known by on the prefix handle ``0.NA/<prefix>``: the
``sub`` of the HS_CERT binding it, else the HS_PUBKEY holding it (so the key must be
certified or published first: ``idnode cert request`` / ``keys publish``).

Which handles::

    idnode sign 88.118.8/TV-0000001 --key acme.pem --passphrase-env ACME_PASS
    idnode sign --prefix 88.118.8 --key acme.pem ...          # every record of the prefix
    idnode sign --from handles.txt --key acme.pem ...         # one handle per line
    idnode sign --prefix 88.118.8 --expiring-within 30d ...   # re-sign before expiry

``--expiring-within`` keeps only records whose signature by this signer expires
within the window (or has expired), so a daily cron job renews them.  The
signature is written through the node's write rules, which verify it against the
record being stored; ``--server HOST:PORT`` writes it instead over the
authenticated Handle protocol with the enterprise's own credentials (the server
verifies it the same way before storing it; REST clients do the same with a PUT,
see README "Signed records").  Validity: ``--days`` (default ``signature_days``).

Before signing, the key's own chain is checked once (its HS_CERT up to the trust
anchor, ``trust_anchor_path``): a revoked, expired or uncertified key still signs,
but a line ``idnode: warning: signing key THUMBPRINT (SIGNER) is revoked: REASON``
goes to stderr (and ``warnings`` in ``--json``), as readers will not see the
records verified.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from admin.commands.keys import add_passphrase_options, read_file, read_private_key
from admin.commands.registry_access import Registry, server_options
from admin.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from registry.record_signing import Outcome, Selection, Signer, sign_selected
from registry.signing_policy import load_trust_anchor

_DURATION = re.compile(r"(\d+)([smhdw]?)")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "": 86_400}
MAX_HANDLE_LIST_BYTES = 64 * 1024 * 1024


def parse_duration(text: str) -> int:
    """Seconds in ``30d`` / ``12h`` / ``2w`` / ``90`` (days); a usage error otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise CliError(f"--expiring-within: not a duration like 30d, 12h or 2w: {text!r}",
                       EXIT_USAGE)
    return int(match.group(1)) * _UNIT[match.group(2)]


def _handle_list(path: Path) -> list[str]:
    data = read_file(path, "handle list")
    if len(data) > MAX_HANDLE_LIST_BYTES:
        raise CliError(f"{path}: more than {MAX_HANDLE_LIST_BYTES} bytes", EXIT_USAGE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text", EXIT_USAGE) from None
    return [line.strip() for line in text.splitlines() if line.strip()
            and not line.lstrip().startswith("#")]


async def sign_all(signer: Signer, args: argparse.Namespace) -> Outcome:
    """Sign every record the arguments select (:func:`registry.record_signing.sign_selected`)."""
    named = list(args.handles) + [h for f in args.from_file or () for h in _handle_list(Path(f))]
    return await sign_selected(signer, Selection(named, list(args.prefix or ())))


async def sign(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Sign the selected records (see the module docstring)."""
    if not (args.handles or args.prefix or args.from_file):
        raise CliError("name what to sign: HANDLE..., --prefix P or --from FILE", EXIT_USAGE)
    if args.server and args.prefix:
        raise CliError("--prefix lists this node's registry: with --server name the handles "
                       "(HANDLE... or --from FILE)", EXIT_USAGE)
    days = args.days or ctx.config.signature_days
    if days < 1:
        raise CliError("--days must be at least 1", EXIT_USAGE)
    key = read_private_key(ctx.config.path(Path(args.key)), args)
    expiring = None if args.expiring_within is None else parse_duration(args.expiring_within)
    anchor = load_trust_anchor(ctx.config)
    if args.server:
        registry = Registry(ctx, args)
        outcome = await sign_all(Signer(registry, key, days, expiring, refused=(CliError,),
                                        trust_anchor=anchor), args)
    else:
        async with ctx.store() as store:
            registry = Registry(ctx, args, store)
            outcome = await sign_all(Signer(registry, key, days, expiring, refused=(CliError,),
                                            trust_anchor=anchor), args)
    rows, skipped, failed = outcome.signed, outcome.not_due, [str(f) for f in outcome.failed]
    for warning in outcome.warnings:
        print(f"idnode: warning: {warning}", file=sys.stderr)
    for problem in failed:
        print(f"idnode: {problem}", file=sys.stderr)
    summary = {"signed": rows, "not_due": skipped, "failed": failed, "written": registry.where,
               "warnings": [str(w) for w in outcome.warnings]}
    text = "\n".join(f"{r['handle']}: HS_SIGNATURE {r['index']} by {r['signer']}" for r in rows)
    text += f"\nsigned {len(rows)}" + (f", {skipped} not due" if skipped else "") + (
        f", {len(failed)} failed" if failed else "")
    ctx.out.result(summary, text.strip())
    return EXIT_FAILED if failed else EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sign``."""
    parser = add_command(
        subparsers, "sign", sign, writes=True,
        summary="Sign records with an enterprise's own key (HS_SIGNATURE).",
        examples="  idnode sign 88.118.8/TV-0000001 --key keys/acme.pem --passphrase-env A_PASS\n"
        "  idnode sign --prefix 88.118.8 --key keys/acme.pem --passphrase-file pass.txt\n"
        "  idnode sign --prefix 88.118.8 --expiring-within 30d --key keys/acme.pem ...\n"
        "  idnode sign 88.118.8/TV-0000001 --key keys/acme.pem --server node.example:2641 \\\n"
        "      --admin 300:0.NA/88.118.8 --secret-file acme.secret",
    )
    parser.add_argument("handles", nargs="*", metavar="HANDLE", help="records to sign")
    parser.add_argument("--key", required=True, metavar="FILE",
                        help="the enterprise's private key (PEM; relative to the data dir "
                        "unless absolute)")
    parser.add_argument("--prefix", action="append", metavar="P",
                        help="every record under prefix P in this node's registry (repeatable)")
    parser.add_argument("--from", dest="from_file", action="append", metavar="FILE",
                        help="a file naming handles, one per line (repeatable)")
    parser.add_argument("--expiring-within", metavar="DURATION",
                        help="only records whose signature by this key expires within "
                        "DURATION (30d, 12h, 2w) or has expired")
    parser.add_argument("--days", type=int,
                        help="validity of the new signatures (default: signature_days)")
    add_passphrase_options(parser, "the key")
    server_options(parser)
