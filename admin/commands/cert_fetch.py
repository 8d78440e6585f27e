"""``idnode cert fetch``: bring this node's certificates from upstream, no copy-paste.

The certificate that makes this node's (or an enterprise node's) key trusted is
an HS_CERT on its prefix handle ``0.NA/<prefix>`` *as the world resolves it*: at
the root for a node (written there by the root operator's ``idnode cert issue``),
at the parent node for an enterprise node with a delegated prefix.  The node
resolves its own prefix handle from its own registry, so it needs a copy.  The
command resolves ``0.NA/<prefix>`` at ``--from HOST:PORT`` (default
``root_address``) over the Handle protocol, recursively so the root follows
referrals to a parent node, and authoritatively, so the answer is fetched afresh
rather than from a copy the root cached before the certificate was issued; checks
each HS_CERT up its chain to the trust anchor (the chain's other handles resolved
the same way; an HS_REVOCATION on an issuer's handle counts) and stores the ones
that verify in the local prefix handle, at the same index unless a local value
other than an HS_CERT holds it.
Certificates that do not verify are listed with the reason and not stored.

The trust anchor itself (the root's public key) is what a node must get out of
band.  ``--anchor-thumbprint T`` saves typing it: the HS_PUBKEY values of the
handle that issued the top certificate are looked at, and the one whose RFC 7638
thumbprint is ``T`` (read from the root operator's ``idnode keys show``) is
installed as ``keys/trust_anchor.pub`` in the data dir (the trust anchor when
``trust_anchor_path`` is not set), as ``idnode init --trust-anchor`` does.
"""

from __future__ import annotations

import argparse
from typing import Any

from admin.commands.prefix import parse_server
from admin.commands.registry_access import Registry
from admin.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from protocol.constants import RC_SUCCESS, TYPE_HS_CERT, TYPE_HS_PUBKEY
from protocol.values import HandleValue
from registry.config import ConfigError
from registry.errors import HandleNotFound
from registry.names import name_key, prefix_handle
from registry.signing_policy import TRUST_ANCHOR_FILE, load_trust_anchor
from registry.trust.certs import signed_values
from registry.trust.claims import ValueRef
from registry.trust.errors import TrustError
from registry.trust.keys import (
    PublicKey,
    hs_pubkey_to_public_key,
    jwk_thumbprint,
    public_key_to_pem,
)
from registry.trust.signatures import next_free_index
from registry.trust.verify import Status, verify_cert
from resolver.core.client import HandleClient, HandleClientError, Target
from resolver.core.verification import handle_protocol_fetch

TIMEOUT = 5.0


async def _remote_values(client: HandleClient, server: Target, handle: str,
                         where: str) -> list[HandleValue]:
    try:
        answer = await client.resolve(handle, server=server, recursive=True,
                                     authoritative=True)
    except HandleClientError as exc:
        raise CliError(f"{where} did not answer for {handle}: {exc}", EXIT_FAILED) from None
    if answer.response_code != RC_SUCCESS:
        raise CliError(f"{handle} not found at {where}", EXIT_FAILED)
    return list(answer.values)


async def _install_anchor(ctx: CommandContext, client: HandleClient, server: Target,
                          where: str, certs: list[HandleValue], holder: str,
                          thumbprint: str) -> PublicKey:
    """Find the HS_PUBKEY with ``thumbprint`` on the handle that issued the top certificate
    (following issuers up from ``holder``'s certificates) and install it as trust anchor."""
    issuers = {ValueRef.parse(c.claims.iss).handle for c in signed_values(holder, certs,
                                                                       TYPE_HS_CERT)}
    looked: list[str] = []
    while issuers:
        handle = issuers.pop()
        if name_key(handle) in map(name_key, looked) or len(looked) >= 8:
            continue
        looked.append(handle)
        try:
            values = await _remote_values(client, server, handle, where)
        except CliError:
            continue
        for value in values:
            if name_key(value.type) != TYPE_HS_PUBKEY:
                continue
            try:
                key = hs_pubkey_to_public_key(value.data)
            except TrustError:
                continue
            if jwk_thumbprint(key) == thumbprint:
                target = ctx.config.path(TRUST_ANCHOR_FILE)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(public_key_to_pem(key))
                return key
        issuers.update(ValueRef.parse(c.claims.iss).handle
                       for c in signed_values(handle, values, TYPE_HS_CERT))
    raise CliError(f"no HS_PUBKEY with thumbprint {thumbprint} on {', '.join(looked)} at "
                   f"{where}", EXIT_FAILED)


async def fetch(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Copy the verified HS_CERT values of this node's prefix handle from upstream."""
    where = args.source or ctx.config.root_address
    if not where:
        raise CliError("no root address: set root_address or pass --from HOST:PORT",
                       EXIT_USAGE)
    server = parse_server(where)
    holder = prefix_handle(args.prefix or ctx.node_prefix)
    client = HandleClient(timeout=args.timeout)
    remote = await _remote_values(client, server, holder, where)
    certs = [v for v in remote if name_key(v.type) == TYPE_HS_CERT]
    if not certs:
        raise CliError(f"{holder} at {where} holds no HS_CERT (ask the issuer to run "
                       "'idnode cert issue' or approve your request)", EXIT_FAILED)
    anchor = (await _install_anchor(ctx, client, server, where, certs, holder,
                                    args.anchor_thumbprint)
              if args.anchor_thumbprint else _configured_anchor(ctx))
    chain_fetch = handle_protocol_fetch(client, server, fresh=True)  # revocations as of now
    rows: list[dict[str, Any]] = []
    registry = Registry(ctx, argparse.Namespace(server=None, timeout=args.timeout))
    try:
        local = await registry.values(holder)
    except HandleNotFound:
        raise CliError(f"{holder} is not in this node's registry (is {args.prefix or ''} "
                       "a prefix of this node?)", EXIT_FAILED) from None
    for cert in certs:
        status, reason, _ = await verify_cert(holder, cert, fetch=chain_fetch,
                                              trust_anchor=anchor)
        row: dict[str, Any] = {"index": cert.index, "status": str(status), "reason": reason}
        if status is Status.VALID:
            taken = next((v for v in local if v.index == cert.index), None)
            index = cert.index if taken is None or name_key(taken.type) == TYPE_HS_CERT else (
                next_free_index(local, cert.index))
            copy = HandleValue(index, TYPE_HS_CERT, cert.data, ttl=cert.ttl)
            await registry.put(holder, copy, local)
            local = [v for v in local if v.index != index] + [copy]
            row["stored_at"] = index
        rows.append(row)
    stored = sum("stored_at" in r for r in rows)
    text = "\n".join(f"HS_CERT {r['index']}: {r['status']}"
                     + (f", stored at {holder} index {r['stored_at']}" if "stored_at" in r
                        else f" - {r['reason']}") for r in rows)
    if args.anchor_thumbprint:
        text += (f"\ntrust anchor: the root key {args.anchor_thumbprint} installed as "
                 f"{ctx.config.path(TRUST_ANCHOR_FILE)}; restart 'idnode serve' to use it")
    ctx.out.result({"handle": holder, "from": where, "certificates": rows, "stored": stored,
                    "trust_anchor": jwk_thumbprint(anchor)}, text)
    return EXIT_OK if stored else EXIT_FAILED


def _configured_anchor(ctx: CommandContext) -> PublicKey:
    try:
        anchor = load_trust_anchor(ctx.config)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if anchor is None:
        raise CliError("no trust anchor to check the certificates against: run 'idnode init "
                       "--trust-anchor ROOT.pub' or give --anchor-thumbprint T", EXIT_USAGE)
    return anchor


def register_fetch(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cert fetch`` to the ``cert`` group."""
    parser = add_command(
        group, "fetch", fetch, writes=True,
        summary="Fetch this node's HS_CERT chain from the root (or parent) over the Handle "
        "protocol.",
        examples="  idnode cert fetch                        # from root_address\n"
        "  idnode cert fetch --from 127.0.0.1:2641 --anchor-thumbprint 8Gx...\n"
        "  idnode cert fetch --prefix 88.118.9      # an enterprise node's own prefix",
    )
    parser.add_argument("--from", dest="source", metavar="HOST:PORT",
                        help="the server to ask (default: root_address)")
    parser.add_argument("--prefix", help="the prefix whose certificates to fetch (default: "
                        "this node's first prefix)")
    parser.add_argument("--anchor-thumbprint", metavar="T",
                        help="also install the root key with this RFC 7638 thumbprint as "
                        "trust anchor")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per request")
