"""Node identity and enterprise onboarding: keys, prefix handles and their admins.

Layout of the handles made here (CNRI conventions):

* the node's prefix handle ``0.NA/<node prefix>``: HS_SITE at index 1 (this
  node), HS_ADMIN at 100 granting everything to ``0.NA/<node prefix>``:300,
  and the node admin's HS_PUBKEY at 300;
* a hosted enterprise prefix handle ``0.NA/<enterprise prefix>``: HS_SITE at 1
  (this node, which serves the prefix), HS_ADMIN at 100 for the enterprise's
  admin ``0.NA/<enterprise prefix>``:300 and at 101 for the node admin; the
  enterprise's credential (HS_SECKEY or HS_PUBKEY) goes to index 300.  The
  enterprise admin gets every permission except adding derived prefixes
  (ADD_NA), unless the operator grants sub-prefixes (``sub_prefixes``);
* a delegated prefix handle: HS_SITE at 1 naming the enterprise's own servers
  (so this node answers with a referral) and the same two HS_ADMIN values.

Private keys are written with mode 0600 and never logged.  HS_SECKEY values
are readable by admins only (never public).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.admin_record import decode_admin_record, encode_admin_record
from protocol.constants import (
    ADMIN_PERM_ADD_NA,
    ADMIN_PERM_ALL,
    TYPE_HS_ADMIN,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import encode_public_key
from protocol.values import HandleValue
from registry.admins import (
    ADMIN_INDEX,
    CREDENTIAL_INDEX,
    ENTERPRISE_ADMIN_PERMS,
    admin_value,
    enterprise_admin,
)
from registry.errors import InvalidArgument, NotFound
from registry.names import name_key, prefix_handle
from registry.records import CredentialInfo, EnterpriseInfo, HandleRecord
from registry.store import HandleStore
from registry.trust.keys import generate_key, private_key_to_pem

SITE_INDEX = 1
NODE_ADMIN_REF_INDEX = 101
SERVER_KEY_BITS = 2048
ADMIN_KEY_FILE = "keys/admin_key.pem"
ADMIN_PUBKEY_FILE = "keys/admin_pubkey.bin"
SECRET_KEY_BYTES = 24


@dataclass(frozen=True, slots=True)
class NodeKeyFiles:
    """Where the node's key pairs live (private keys PEM, public keys HS_PUBKEY bytes)."""

    server_key: Path
    server_pubkey: Path
    admin_key: Path
    admin_pubkey: Path


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 (never wider, even briefly) holding ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _new_pair(private_path: Path, public_path: Path, passphrase: str | None) -> None:
    key = generate_key("rsa", rsa_bits=SERVER_KEY_BITS)
    assert isinstance(key, rsa.RSAPrivateKey)
    write_private(private_path, private_key_to_pem(key, passphrase))
    write_private(public_path, encode_public_key(key.public_key()))


def create_node_keys(files: NodeKeyFiles, *, admin_passphrase: str | None = None) -> list[Path]:
    """Generate the missing RSA-2048 server key and node admin key; the paths written."""
    written: list[Path] = []
    if not (files.server_key.exists() and files.server_pubkey.exists()):
        _new_pair(files.server_key, files.server_pubkey, None)
        written += [files.server_key, files.server_pubkey]
    if not (files.admin_key.exists() and files.admin_pubkey.exists()):
        _new_pair(files.admin_key, files.admin_pubkey, admin_passphrase)
        written += [files.admin_key, files.admin_pubkey]
    return written


def node_admin(node_prefix: str) -> tuple[str, int]:
    """The node administrator's identity: ``(0.NA/<node prefix>, 300)``."""
    return prefix_handle(node_prefix), CREDENTIAL_INDEX


def node_prefix_values(
    node_prefix: str, site: HandleValue | None, admin_pubkey: bytes
) -> list[HandleValue]:
    """The values of the node's own prefix handle (see the module docstring)."""
    handle, index = node_admin(node_prefix)
    values = [admin_value(ADMIN_INDEX, handle, index),
              HandleValue(index=CREDENTIAL_INDEX, type=TYPE_HS_PUBKEY, data=admin_pubkey)]
    if site is not None:
        values.insert(0, replace(site, index=SITE_INDEX))
    return values


def enterprise_prefix_values(
    prefix: str, node_prefix: str, site: HandleValue | None, *, sub_prefixes: bool = False
) -> list[HandleValue]:
    """HS_SITE (if any) and the two HS_ADMIN values of an enterprise prefix handle;
    the enterprise admin may add derived prefixes only with ``sub_prefixes``."""
    perms = ADMIN_PERM_ALL if sub_prefixes else ENTERPRISE_ADMIN_PERMS
    values = [admin_value(ADMIN_INDEX, *enterprise_admin(prefix), perms),
              admin_value(NODE_ADMIN_REF_INDEX, *node_admin(node_prefix))]
    if site is not None:
        values.insert(0, replace(site, index=SITE_INDEX))
    return values


async def ensure_node_identity(
    store: HandleStore,
    node_prefix: str,
    *,
    site: HandleValue | None,
    admin_pubkey: bytes,
    actor: str,
) -> HandleRecord:
    """Register the node prefix and write its prefix handle (idempotent)."""
    if await store.get_prefix(node_prefix) is None:
        await store.create_prefix(node_prefix, kind="hosted")
    values = node_prefix_values(node_prefix, site, admin_pubkey)
    return await store.replace_handle(prefix_handle(node_prefix), values, actor=actor)


async def next_enterprise_prefix(store: HandleStore, node_prefix: str) -> str:
    """The first free ``<node prefix>.N`` (N from 1)."""
    taken = {p.name for p in await store.list_prefixes()}
    number = 1
    while name_key(f"{node_prefix}.{number}") in taken:
        number += 1
    return f"{node_prefix}.{number}"


def check_enterprise_prefix(prefix: str, node_prefix: str) -> None:
    """Raise :class:`InvalidArgument` unless ``prefix`` is below ``node_prefix``."""
    if not name_key(prefix).startswith(name_key(node_prefix) + "."):
        raise InvalidArgument(f"prefix {prefix} is not under this node's prefix {node_prefix}")


async def onboard_enterprise(
    store: HandleStore,
    enterprise: EnterpriseInfo,
    prefix: str,
    *,
    node_prefix: str,
    site: HandleValue | None,
    actor: str,
    sub_prefixes: bool = False,
) -> HandleRecord:
    """Give a registered enterprise its hosted ``prefix`` and prefix handle, in one
    transaction: if the prefix handle exists already (someone made it before the
    prefix was registered) nothing is registered (:class:`HandleAlreadyExists`)."""
    check_enterprise_prefix(prefix, node_prefix)
    values = enterprise_prefix_values(prefix, node_prefix, site, sub_prefixes=sub_prefixes)
    async with store.transaction():
        await store.create_prefix(prefix, kind="hosted", owner=enterprise.code)
        return await store.create_handle(prefix_handle(prefix), values, actor=actor)


async def delegate_prefix(
    store: HandleStore,
    prefix: str,
    site: HandleValue,
    *,
    node_prefix: str,
    owner: str | None,
    actor: str,
) -> HandleRecord:
    """Point ``prefix`` at other servers: kind ``delegated`` and an HS_SITE referral."""
    handle = prefix_handle(prefix)
    async with store.transaction():  # both or nothing
        existing = await store.get_prefix(prefix)
        if existing is None:
            await store.create_prefix(prefix, kind="delegated", owner=owner)
        elif existing.kind != "delegated":
            await store.set_prefix_kind(prefix, "delegated")
        current = await store.get_handle(handle)
        # a prefix registered now starts from the operator's values: whatever someone
        # wrote into its handle before (admins included) is not kept
        kept = [v for v in current.values if v.type not in ("HS_SITE", "HS_SERV")] if (
            current and existing is not None
        ) else enterprise_prefix_values(prefix, node_prefix, None)
        values = [replace(site, index=SITE_INDEX), *(v for v in kept if v.index != SITE_INDEX)]
        return await store.replace_handle(handle, values, actor=actor)


async def set_sub_prefixes(
    store: HandleStore, enterprise: str, prefix: str, allowed: bool, *, actor: str
) -> HandleRecord:
    """Grant (``allowed``) or withdraw the enterprise admin's right to create derived
    prefixes (ADD_NA) on its prefix handle: every HS_ADMIN there naming the handle
    itself gets the bit set or cleared.  Also how a prefix handle written before
    enterprise admins lost ADD_NA by default is brought in line."""
    handle = await _owned_prefix_handle(store, enterprise, prefix)
    async with store.transaction():
        record = await store.get_handle(handle)
        if record is None:
            raise NotFound(f"no prefix handle {handle}")
        changed = []
        for value in record.values:
            if value.type != TYPE_HS_ADMIN:
                continue
            admin = decode_admin_record(value.data)
            if name_key(admin.admin_handle) != name_key(handle):
                continue
            bits = admin.permissions | ADMIN_PERM_ADD_NA if allowed else (
                admin.permissions & ~ADMIN_PERM_ADD_NA
            )
            if bits != admin.permissions:
                data = encode_admin_record(replace(admin, permissions=bits))
                changed.append(replace(value, data=data))
        if not changed:
            return record
        return await store.modify_values(handle, changed, actor=actor)


def hashed_secret(secret: str) -> bytes:
    """CNRI's hashed secret key form (``Encoder.encodeSecretKey``): lower-case hex SHA-1."""
    # SHA-1 is what CNRI clients compute for the hashed form; it is not a password hash.
    return hashlib.sha1(secret.encode("utf-8"), usedforsecurity=False).hexdigest().encode("ascii")


def new_secret() -> str:
    """A fresh random secret key, printable (base64url, 192 bits)."""
    return secrets.token_urlsafe(SECRET_KEY_BYTES)


def check_controlled(record: HandleRecord, trusted: tuple[str, int] | None) -> None:
    """Raise :class:`InvalidArgument` unless only the handle itself (through a
    value that is not an admin group) and ``trusted`` (the node admin) are named
    as admins of ``record``: a credential written into it must be readable by
    its enterprise and the operator only, never by whoever else put an
    HS_ADMIN (or an HS_VLIST group) there."""
    by_index = {v.index: v for v in record.values}
    for value in record.values:
        if value.type != TYPE_HS_ADMIN:
            continue
        try:
            admin = decode_admin_record(value.data)
        except ProtocolError:
            raise InvalidArgument(
                f"{record.name} index {value.index}: unreadable HS_ADMIN"
            ) from None
        ref = (name_key(admin.admin_handle), admin.admin_index)
        if trusted is not None and ref == (name_key(trusted[0]), trusted[1]):
            continue
        target = by_index.get(admin.admin_index)
        if ref[0] == name_key(record.name) and (target is None or target.type != TYPE_HS_VLIST):
            continue
        raise InvalidArgument(
            f"{record.name} names {admin.admin_index}:{admin.admin_handle} as admin "
            f"(index {value.index}): no credential is written into a handle others control"
        )


async def _put_credential(
    store: HandleStore, handle: str, value: HandleValue, actor: str,
    node_admin_ref: tuple[str, int] | None,
) -> None:
    record = await store.get_handle(handle)
    if record is None:
        raise NotFound(f"no prefix handle {handle}")
    check_controlled(record, node_admin_ref)
    if any(v.index == value.index for v in record.values):
        await store.modify_values(handle, [value], actor=actor)
    else:
        await store.add_values(handle, [value], actor=actor)


async def _record(
    store: HandleStore, enterprise: str, handle: str, index: int, kind: str
) -> CredentialInfo:
    for old in await store.list_credentials(enterprise=enterprise):
        if name_key(old.admin_handle) == name_key(handle) and old.admin_index == index:
            await store.revoke_credential(old.id)
    return await store.record_credential(handle, index, kind, enterprise=enterprise)


async def issue_secret_key(
    store: HandleStore,
    enterprise: str,
    prefix: str,
    *,
    actor: str,
    hashed: bool = False,
    index: int = CREDENTIAL_INDEX,
    node_prefix: str | None = None,
) -> tuple[str, CredentialInfo]:
    """Store a fresh HS_SECKEY for the enterprise admin; returns the secret (show it once).

    With ``hashed`` the value holds CNRI's hashed form, and clients must use
    their "hashed secret key" option with the secret.  The prefix must be the
    enterprise's and its handle controlled by it and the node admin only
    (``node_prefix``): see :func:`check_controlled`.
    """
    secret = new_secret()
    data = hashed_secret(secret) if hashed else secret.encode("ascii")
    value = HandleValue(index=index, type=TYPE_HS_SECKEY, data=data, public_read=False)
    handle = await _owned_prefix_handle(store, enterprise, prefix)
    async with store.transaction():
        await _put_credential(store, handle, value, actor, _node_admin_ref(node_prefix))
        return secret, await _record(store, enterprise, handle, index, "seckey")


async def register_public_key(
    store: HandleStore,
    enterprise: str,
    prefix: str,
    hs_pubkey: bytes,
    *,
    actor: str,
    index: int = CREDENTIAL_INDEX,
    node_prefix: str | None = None,
) -> CredentialInfo:
    """Store the enterprise admin's public key (HS_PUBKEY data) at ``index`` (same
    checks as :func:`issue_secret_key`)."""
    handle = await _owned_prefix_handle(store, enterprise, prefix)
    value = HandleValue(index=index, type=TYPE_HS_PUBKEY, data=hs_pubkey)
    async with store.transaction():
        await _put_credential(store, handle, value, actor, _node_admin_ref(node_prefix))
        return await _record(store, enterprise, handle, index, "pubkey")


def _node_admin_ref(node_prefix: str | None) -> tuple[str, int] | None:
    return None if node_prefix is None else node_admin(node_prefix)


async def _owned_prefix_handle(store: HandleStore, enterprise: str, prefix: str) -> str:
    """``0.NA/<prefix>`` once ``prefix`` is checked to be registered to ``enterprise``."""
    info = await store.get_prefix(prefix)
    if info is None or info.owner != enterprise:
        raise InvalidArgument(f"prefix {prefix} is not registered to enterprise {enterprise}")
    return prefix_handle(info.name)


async def enterprise_prefix(store: HandleStore, code: str) -> str:
    """The (first) hosted or delegated prefix owned by enterprise ``code``."""
    owned = await store.list_prefixes(owner=code)
    if not owned:
        raise NotFound(f"enterprise {code} owns no prefix")
    return owned[0].name

