"""``idnode cert request``: a certificate request, the HS_CERT counterpart of a CSR.

The enterprise (or a node asking its root) signs, with the key it wants certified,
a Handle claims set naming itself as issuer and subject and carrying the public
key (the shape of a Handle 9 self-issued certificate)::

    {"iss": "300:0.NA/88.118.8", "sub": "300:0.NA/88.118.8", "iat": ..., "exp": ...,
     "publicKey": {<JWK>}}

The compact JWS is the request file.  Signing it proves possession of the private
key; the request names no permissions (the issuer decides them) and expires after
``--days`` (default 30), so an old file cannot be approved by surprise.  The
operator approves it with ``idnode cert issue --request FILE`` (:func:`read_request`
checks it), which writes the HS_CERT like any ``cert issue`` and is audited as a
write of the subject's handle.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from admin.commands.cert_queue import submit_text
from admin.commands.keys import add_passphrase_options, read_file, read_private_key
from admin.commands.root import parse_identity
from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from registry.trust.claims import HandleClaims, ValueRef
from registry.trust.jws import sign
from registry.trust.keys import PublicKey, jwk_thumbprint
from registry.trust.requests import RequestError, check_request

DAY = 86_400


def read_request(path: Path, now: int | None = None) -> tuple[ValueRef, PublicKey]:
    """The subject and key of the request in ``path``, once its self-signature verifies
    and it has not expired; a usage error naming the file and the problem otherwise."""
    data = read_file(path, "certificate request")
    try:
        return check_request(data, int(time.time()) if now is None else now)
    except RequestError as exc:
        raise CliError(f"{path}: {exc}", EXIT_USAGE) from None


def _write(path: Path, text: str) -> None:
    path.write_text(text + "\n", encoding="ascii")


async def request(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Write a certificate request signed by ``--key`` for ``--subject``."""
    try:
        index, handle = parse_identity(args.subject)
    except CliError:
        raise CliError(f"--subject must be INDEX:HANDLE, got {args.subject!r}",
                       EXIT_USAGE) from None
    if args.days < 1:
        raise CliError("--days must be at least 1", EXIT_USAGE)
    key = read_private_key(ctx.config.path(Path(args.key)), args)
    subject = str(ValueRef(handle, index))
    now = int(time.time())
    claims = HandleClaims(iss=subject, sub=subject, iat=now, nbf=now,
                          exp=now + args.days * DAY, public_key=key.public_key())
    text = sign(claims.to_json(), key).compact()
    out = Path(args.out)
    _write(out, text)
    if args.submit:
        queued = await submit_text(ctx, text, str(out))
        ctx.out.result({"request": str(out), **queued},
                       f"certificate request {queued['id']} for {subject} queued for review")
        return EXIT_OK
    ctx.out.result({"request": str(out), "subject": subject,
                    "key": jwk_thumbprint(key.public_key()), "expires": now + args.days * DAY},
                   f"certificate request for {subject} written to {out}; send it to the "
                   f"issuer (key thumbprint {jwk_thumbprint(key.public_key())})")
    return EXIT_OK


def register_request(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cert request`` to the ``cert`` group."""
    parser = add_command(
        group, "request", request,
        summary="Write a certificate request (CSR-like, signed by the key to certify).",
        examples="  idnode cert request --key keys/acme.pem --passphrase-env ACME_PASS \\\n"
        "      --subject 300:0.NA/88.118.8 --out acme.certreq",
    )
    parser.add_argument("--key", required=True, metavar="FILE",
                        help="the private key to certify (relative to the data dir unless "
                        "absolute)")
    parser.add_argument("--subject", required=True, metavar="INDEX:HANDLE",
                        help="the reference to certify, e.g. 300:0.NA/88.118.8")
    parser.add_argument("--out", required=True, metavar="FILE", help="where the request goes")
    parser.add_argument("--days", type=int, default=30,
                        help="how long the request can be approved (default 30)")
    parser.add_argument("--submit", action="store_true",
                        help="also queue it for review in this node's registry "
                        "('idnode cert requests')")
    add_passphrase_options(parser, "the key")
