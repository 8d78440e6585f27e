"""The signed statement one node sends another: "my product P contains your part B".

A back-link travels as a compact JWS (:mod:`registry.trust.jws`, signed with
the sending node's server key, the key its HS_SITE publishes) over the JSON
payload::

    {"v": 1, "op": "add" | "remove", "part": "88.118.9/PCB-1",
     "product": "88.118.7/WM-1", "relation": "component" | "batch",
     "node": "idnode node 88.118.7", "iat": 1765000000}

``iat`` (seconds since the epoch, when it was signed) orders the statements
about one product/part/relation: the receiver keeps the newest, so a replayed
old ``add`` cannot undo a ``remove``.  :func:`read_claim` checks the form
only; whose key must verify it is :mod:`resolver.core.backlinks`' business
(the server key of the product prefix's home).  Every size is bounded here:
the JWS text, the handles, the node name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry.errors import InvalidHandle
from registry.names import split_handle
from registry.templates import LINK_RELATIONS
from registry.trust.errors import JwsError
from registry.trust.jws import Jws, parse, sign
from registry.trust.keys import PrivateKey, PublicKey

VERSION = 1
OPS = ("add", "remove")
RELATIONS = tuple(LINK_RELATIONS.values())
MAX_JWS_CHARS = 8192
MAX_NODE_CHARS = 128
_FIELDS = {"v", "op", "part", "product", "relation", "node", "iat"}


class ClaimError(ValueError):
    """A back-link statement that is not one (the message says which part is wrong)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A parsed back-link statement and the JWS it came in."""

    op: str
    part: str
    product: str
    relation: str
    node: str
    iat: int
    jws: Jws

    def verifies(self, key: PublicKey) -> bool:
        """Whether the JWS is signed by ``key``."""
        return self.jws.verifies(key)


def sign_claim(
    key: PrivateKey, *, op: str, part: str, product: str, relation: str, node: str, iat: int
) -> str:
    """The compact JWS of one statement, signed with ``key``."""
    payload = {"v": VERSION, "op": op, "part": part, "product": product,
               "relation": relation, "node": node, "iat": iat}
    return sign(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
                key).compact()


def _handle(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ClaimError(f"{name}: must be a handle, got {value!r:.80}")
    try:
        split_handle(value)
    except InvalidHandle as exc:
        raise ClaimError(f"{name}: {exc}") from None
    return value


def read_claim(text: object) -> Claim:
    """The statement in compact JWS ``text``; :class:`ClaimError` says what is wrong."""
    if not isinstance(text, str):
        raise ClaimError("a back-link must be a compact JWS string")
    if len(text) > MAX_JWS_CHARS:
        raise ClaimError(f"a back-link JWS is at most {MAX_JWS_CHARS} characters")
    if text.count(".") != 2:
        raise ClaimError("a back-link must be a compact JWS (header.payload.signature)")
    try:
        jws = parse(text)
        body = json.loads(jws.payload)
    except (JwsError, ValueError) as exc:
        raise ClaimError(f"not a signed back-link: {exc}") from None
    if not isinstance(body, dict) or set(body) != _FIELDS:
        raise ClaimError(f"the payload must have exactly {', '.join(sorted(_FIELDS))}")
    if body["v"] != VERSION:
        raise ClaimError(f"v: only version {VERSION} is known, got {body['v']!r:.20}")
    if body["op"] not in OPS:
        raise ClaimError(f"op: must be one of {', '.join(OPS)}, got {body['op']!r:.40}")
    if body["relation"] not in RELATIONS:
        raise ClaimError(f"relation: must be one of {', '.join(RELATIONS)}, "
                         f"got {body['relation']!r:.40}")
    node, iat = body["node"], body["iat"]
    if not isinstance(node, str) or not 0 < len(node) <= MAX_NODE_CHARS:
        raise ClaimError(f"node: must be a name of 1 to {MAX_NODE_CHARS} characters")
    if not isinstance(iat, int) or isinstance(iat, bool) or iat < 0:
        raise ClaimError("iat: must be seconds since the epoch")
    return Claim(body["op"], _handle(body, "part"), _handle(body, "product"), body["relation"],
                 node, iat, jws)
