"""Choosing the server of a multi-server site that holds a handle.

Exactly as CNRI ``SiteInfo.getHandleHash``/``determineServerNum``: take the
part of the handle selected by the site's hash option (prefix = before the
first ``/``, or ``0.NA`` when there is no slash; suffix = after it, or the
whole handle; all = the whole handle), upper-case ASCII ``a``-``z`` only, MD5
it, read the last four digest octets as a signed big-endian int, take its
absolute value and reduce it modulo the number of servers.
"""

from __future__ import annotations

import hashlib

from protocol.constants import HASH_TYPE_BY_ALL, HASH_TYPE_BY_PREFIX, HASH_TYPE_BY_SUFFIX
from protocol.errors import ProtocolError

_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _as_bytes(handle: str | bytes) -> bytes:
    return handle.encode("utf-8") if isinstance(handle, str) else bytes(handle)


def hash_part(handle: str | bytes, hash_option: int) -> bytes:
    """The upper-cased bytes CNRI hashes for ``hash_option``."""
    raw = _as_bytes(handle)
    slash = raw.find(b"/")
    if hash_option == HASH_TYPE_BY_PREFIX:
        part = b"0.NA" if slash < 0 else raw[:slash]
    elif hash_option == HASH_TYPE_BY_SUFFIX:
        part = raw if slash < 0 else raw[slash + 1 :]
    elif hash_option == HASH_TYPE_BY_ALL:
        part = raw
    else:
        raise ProtocolError(f"unknown hash method: {hash_option}")
    return part.translate(_UPPER)


def handle_hash(handle: str | bytes, hash_option: int) -> int:
    """``SiteInfo.getHandleHash``: a non-negative int (Java's ``Math.abs`` quirk aside)."""
    digest = hashlib.md5(hash_part(handle, hash_option), usedforsecurity=False).digest()
    return abs(int.from_bytes(digest[-4:], "big", signed=True))


def server_index(handle: str | bytes, hash_option: int, num_servers: int) -> int:
    """``SiteInfo.determineServerNum``: index of the responsible server.

    (For the one digest in 2**32 whose last word is -2**31 Java's ``Math.abs``
    stays negative and the client fails; we return the mathematical value.)
    """
    if num_servers <= 0:
        raise ProtocolError("site has no servers")
    return handle_hash(handle, hash_option) % num_servers


