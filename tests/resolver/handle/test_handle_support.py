"""Shared test data for the Handle service, server and client tests.

A node hosting prefix ``88.118.8`` (admin ``0.NA/88.118.8``:300 by secret key,
:301 by RSA key, :302 by DSA key; admin group ``0.NA/88.118.8``:200 holding
``88.118.8/ops``:300) and a second prefix ``88.118.9`` with its own admin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.constants import (
    ADMIN_PERM_ADD_HANDLE,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_ALL,
    ADMIN_PERM_DELETE_HANDLE,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_READ_VALUE,
    ADMIN_PERM_REMOVE_VALUE,
)
from protocol.public_key import encode_public_key
from protocol.references import encode_vlist
from protocol.values import HandleValue, ValueReference
from registry.store import HandleStore

PREFIX = "88.118.8"
NA = "0.NA/88.118.8"
OTHER_NA = "0.NA/88.118.9"
OPS = "88.118.8/ops"
TV = "88.118.8/TV-0001"
SECRET = b"prefix-secret"
OTHER_SECRET = b"other-secret"
OPS_SECRET = b"ops-secret"
GROUP_PERMS = (
    ADMIN_PERM_ADD_HANDLE
    | ADMIN_PERM_DELETE_HANDLE
    | ADMIN_PERM_ADD_VALUE
    | ADMIN_PERM_MODIFY_VALUE
    | ADMIN_PERM_REMOVE_VALUE
    | ADMIN_PERM_READ_VALUE
)



@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    """The RSA key of ``0.NA/88.118.8``:301 (made on first use: worker processes
    import this module too)."""
    return rsa.generate_private_key(65537, 2048)


@functools.cache
def dsa_key() -> dsa.DSAPrivateKey:
    """The DSA key of ``0.NA/88.118.8``:302."""
    return dsa.generate_private_key(2048)


def admin_value(
    index: int, handle: str, admin_index: int, perms: int = ADMIN_PERM_ALL
) -> HandleValue:
    """An HS_ADMIN value naming ``handle``:``admin_index``."""
    record = AdminRecord(handle, admin_index, perms)
    return HandleValue(index, "HS_ADMIN", encode_admin_record(record))


def secret_value(index: int, secret: bytes) -> HandleValue:
    """An HS_SECKEY value readable by admins only."""
    return HandleValue(index, "HS_SECKEY", secret, public_read=False)


def url(index: int, text: str, **perms: bool) -> HandleValue:
    """A URL value."""
    return HandleValue(index, "URL", text.encode(), **perms)


@dataclass(frozen=True)
class Node:
    """The seeded store."""

    store: HandleStore


async def seed(store: HandleStore) -> Node:
    """Create the prefix handles, the group member and one product handle."""
    await store.create_handle(
        NA,
        [
            admin_value(100, NA, 300),
            admin_value(101, NA, 200, GROUP_PERMS),
            admin_value(102, NA, 301),
            admin_value(103, NA, 302),
            HandleValue(200, "HS_VLIST", encode_vlist([ValueReference(OPS, 300)])),
            secret_value(300, SECRET),
            HandleValue(301, "HS_PUBKEY", encode_public_key(rsa_key().public_key())),
            HandleValue(302, "HS_PUBKEY", encode_public_key(dsa_key().public_key())),
        ],
        actor="test",
    )
    await store.create_handle(
        OTHER_NA, [admin_value(100, OTHER_NA, 300), secret_value(300, OTHER_SECRET)], actor="test"
    )
    await store.create_handle(OPS, [secret_value(300, OPS_SECRET)], actor="test")
    await store.create_handle(
        TV,
        [
            url(1, "https://example.test/tv/1"),
            HandleValue(2, "EMAIL", b"owner@example.test", public_read=False),
            admin_value(100, NA, 200, GROUP_PERMS),
            admin_value(101, NA, 300),
        ],
        actor="test",
    )
    return Node(store)
