"""``idnode user add|list|disable|enable|totp``: web console accounts.

``add`` prints a generated password once unless ``--password-file`` gives
one; ``totp`` turns the one-time codes on (printing the secret and its
``otpauth://`` URI once, for an authenticator app) or off.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from pathlib import Path
from typing import Any

import pyotp

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.output import fields
from admin.parsing import add_command, add_group
from registry.accounts import UserInfo
from registry.errors import InvalidArgument
from registry.models import ROLES
from registry.passwords import hash_password
from registry.store import HandleStore

GENERATED_PASSWORD_BYTES = 12


def new_password() -> str:
    """A random password to print once (16 characters, base64url)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


async def create_user(
    store: HandleStore, username: str, role: str, password: str, *, enterprise: str | None,
    actor: str,
) -> UserInfo:
    """Create a console account with ``password`` (hashed with argon2id)."""
    return await store.add_user(username, hash_password(password), role, enterprise=enterprise,
                                actor=actor)


def _user_row(user: UserInfo) -> dict[str, Any]:
    return {"user": user.username, "role": user.role, "enterprise": user.enterprise or "",
            "totp": user.totp_secret is not None, "disabled": user.disabled}


async def _get(store: HandleStore, username: str) -> UserInfo:
    user = await store.get_user(username)
    if user is None:
        raise CliError(f"no user {username}")
    return user


async def add(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Create an account; print the password once when it was generated."""
    password = None
    if args.password_file:
        try:
            password = (await asyncio.to_thread(Path(args.password_file).read_text,
                                                 encoding="utf-8")).strip()
        except OSError as exc:
            raise CliError(f"cannot read {args.password_file}: {exc.strerror}", EXIT_USAGE
                           ) from None
    generated = password is None
    password = password or new_password()
    async with ctx.store() as store:
        try:
            user = await create_user(store, args.username, args.role, password,
                                     enterprise=args.enterprise, actor=ctx.actor)
        except InvalidArgument as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    result = _user_row(user)
    text = fields(result)
    if generated:
        result["password"] = password
        text += f"\n\npassword (shown once, store it now): {password}"
    ctx.out.result(result, text)
    return EXIT_OK


async def list_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Every console account."""
    async with ctx.store() as store:
        ctx.out.result([_user_row(u) for u in await store.list_users(enterprise=args.enterprise)])
    return EXIT_OK


async def _set_disabled(ctx: CommandContext, username: str, disabled: bool) -> int:
    async with ctx.store() as store:
        user = await _get(store, username)
        await store.set_user_disabled(user.id, disabled, actor=ctx.actor)
    state = "disabled" if disabled else "enabled"
    ctx.out.result({"user": username, "state": state}, f"user {username} is now {state}")
    return EXIT_OK


async def disable(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Stop an account from logging in (its sessions end)."""
    return await _set_disabled(ctx, args.username, True)


async def enable(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Let a disabled account log in again."""
    return await _set_disabled(ctx, args.username, False)


async def totp(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Turn one-time codes on (new secret, printed once) or off."""
    async with ctx.store() as store:
        user = await _get(store, args.username)
        secret = None if args.off else pyotp.random_base32()
        await store.set_totp_secret(user.id, secret, actor=ctx.actor)
    if secret is None:
        ctx.out.result({"user": args.username, "totp": False},
                       f"one-time codes off for {args.username}")
        return EXIT_OK
    uri = pyotp.TOTP(secret).provisioning_uri(name=args.username, issuer_name="idnode")
    ctx.out.result({"user": args.username, "totp": True, "secret": secret, "uri": uri},
                   f"secret (shown once): {secret}\nauthenticator URI: {uri}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``user`` command group."""
    group = add_group(subparsers, "user", "Web console accounts.")
    parser = add_command(
        group, "add", add, summary="Create a console account (password printed once).",
        examples="  idnode user add alice --role operator\n"
        "  idnode user add bob --role enterprise_user --enterprise HAIER",
    )
    parser.add_argument("username")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--enterprise", help="the enterprise code (enterprise roles only)")
    parser.add_argument("--password-file", metavar="FILE",
                        help="take the password from FILE instead of generating one")
    parser = add_command(group, "list", list_, summary="List console accounts.",
                         examples="  idnode user list\n  idnode user list --enterprise HAIER")
    parser.add_argument("--enterprise")
    for name, handler, summary in (
        ("disable", disable, "Stop an account from logging in."),
        ("enable", enable, "Let a disabled account log in again."),
    ):
        parser = add_command(group, name, handler, summary=summary,
                             examples=f"  idnode user {name} alice")
        parser.add_argument("username")
    parser = add_command(group, "totp", totp, summary="Turn one-time codes on or off.",
                         examples="  idnode user totp alice\n  idnode user totp alice --off")
    parser.add_argument("username")
    parser.add_argument("--off", action="store_true", help="turn one-time codes off")
