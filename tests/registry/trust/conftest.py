"""A small trust world: root -> node (88.118) -> enterprises (88.118.8, 88.118.9).

Records live in a plain dict keyed by the case-insensitive handle name; the
``fetch`` the verifier gets reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from protocol.key_types import JWS_KEY_TYPES
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust import (
    PrivateKey,
    generate_key,
    issue_cert,
    prefix_permissions,
    sign_record,
)

NOW = 1_800_000_000
DAY = 86_400
ROOT = "0.NA/0.NA"
NODE = "0.NA/88.118"
ENT8 = "0.NA/88.118.8"
ENT9 = "0.NA/88.118.9"
RECORD = "88.118.8/TV-0001"
ADMIN_INDEX = 300


@dataclass
class World:
    """Keys of every party and the records the verifier can fetch."""

    root_key: PrivateKey
    node_key: PrivateKey
    ent8_key: PrivateKey
    ent9_key: PrivateKey
    records: dict[str, list[HandleValue]] = field(default_factory=dict)

    def put(self, handle: str, values: Sequence[HandleValue]) -> None:
        self.records[name_key(handle)] = list(values)

    def add(self, handle: str, value: HandleValue) -> None:
        self.records.setdefault(name_key(handle), []).append(value)

    async def fetch(self, handle: str) -> list[HandleValue] | None:
        return self.records.get(name_key(handle))

    def enterprise_cert(
        self, handle: str, key: PrivateKey, not_before: int, expires: int, **kw: Any
    ) -> HandleValue:
        """The node's HS_CERT for an enterprise prefix handle and its key."""
        return issue_cert(
            NODE,
            ADMIN_INDEX,
            self.node_key,
            handle,
            ADMIN_INDEX,
            key.public_key(),
            not_before,
            expires,
            prefix_permissions(handle),
            **kw,
        )


def record_values() -> list[HandleValue]:
    """The unsigned record of 88.118.8/TV-0001 (value 200 is admin-only)."""
    return [
        HandleValue(1, "URL", b"https://example.test/tv/0001", timestamp=NOW - 50),
        HandleValue(2, "EMAIL", b"support@example.test", timestamp=NOW - 50),
        HandleValue(3, "TRACE.BATCH", b'{"batch":"B-17","line":4}', timestamp=NOW - 50),
        HandleValue(200, "INTERNAL", b"cost=12", public_read=False, timestamp=NOW - 50),
    ]


def signed_record(
    world: World, key: PrivateKey | None = None, signer: str = ENT8
) -> list[HandleValue]:
    """``record_values()`` plus an HS_SIGNATURE by ``signer`` (enterprise 8 by default)."""
    values = record_values()
    signature = sign_record(
        RECORD, values, signer, ADMIN_INDEX, key or world.ent8_key, NOW - DAY, NOW + DAY
    )
    return [*values, signature]


@pytest.fixture(scope="module", params=JWS_KEY_TYPES)
def key(request: pytest.FixtureRequest) -> PrivateKey:
    """A fresh key of each supported type in turn."""
    return generate_key(request.param, rsa_bits=2048)


@pytest.fixture(scope="session")
def keys() -> dict[str, PrivateKey]:
    """One key per party; every supported key type appears in the chain."""
    return {
        "root": generate_key("ed25519"),
        "node": generate_key("p256"),
        "ent8": generate_key("rsa", rsa_bits=2048),
        "ent9": generate_key("ed25519"),
    }


@pytest.fixture
def world(keys: dict[str, PrivateKey]) -> World:
    """Root certifies the node; the node certifies both enterprises; nothing signed yet."""
    w = World(keys["root"], keys["node"], keys["ent8"], keys["ent9"])
    w.put(
        NODE,
        [
            issue_cert(
                ROOT,
                ADMIN_INDEX,
                w.root_key,
                NODE,
                ADMIN_INDEX,
                w.node_key.public_key(),
                NOW - 10 * DAY,
                NOW + 365 * DAY,
                prefix_permissions(NODE, derived_prefixes=True),
            )
        ],
    )
    for handle, key in ((ENT8, w.ent8_key), (ENT9, w.ent9_key)):
        w.put(handle, [w.enterprise_cert(handle, key, NOW - 5 * DAY, NOW + 180 * DAY)])
    return w
