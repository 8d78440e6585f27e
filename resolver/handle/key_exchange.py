"""Handle session setup (``OC_SESSION_SETUP``): the Diffie-Hellman session key exchange.

A stock CNRI ``HandleResolver`` opens a session before its first
administrative request: Diffie-Hellman key agreement (``KEY_EXCHANGE_DH``)
yields a session key, every later request of the session carries an
``HS_MAC`` credential made with it (and a session counter, never reused), the
first request is challenged as usual and, once answered, the whole session is
authenticated as that identity.  Only the DH exchange with an AES session key
(protocol 2.4 and later) is offered; other key exchange modes are refused with
RC_SESSION_FAILED.  The sessions themselves are kept by
:class:`resolver.core.auth_sessions.Sessions`.
"""

from __future__ import annotations

import secrets

from protocol.constants import KEY_EXCHANGE_DH
from protocol.dh_groups import EXPONENT_BITS, is_standard_group
from protocol.errors import ProtocolError
from protocol.public_key import DHKeyNumbers, decode_key_numbers, encode_key_numbers
from protocol.wire import Writer

#: HdlSecurityProvider.ENCRYPT_ALG_AES
ENCRYPT_ALG_AES = 3
AES_SESSION_KEY_SIZE = 32


def dh_session_key(mode: int, client_key: bytes | None) -> tuple[bytes, bytes]:
    """Answer a client's DH public key: (session key, SessionSetupResponse data).

    The data is the key algorithm (AES) and our DH public key in the client's
    group, as ``HandleServer.doSessionSetup`` writes them for 2.4+ clients; the
    key is the shared secret without leading zero octets, cut to 32 octets
    (``GenericProvider.getKeyFromDH``).  Only the standard groups of
    :mod:`protocol.dh_groups` are accepted, with a private exponent of
    ``EXPONENT_BITS``.  CPU-bound: callers run it off the event loop.  Raises
    ProtocolError for anything else.
    """
    if mode != KEY_EXCHANGE_DH or client_key is None:
        raise ProtocolError("only Diffie-Hellman session key exchange is supported")
    peer = decode_key_numbers(client_key)
    if not isinstance(peer, DHKeyNumbers):
        raise ProtocolError("session exchange key is not a Diffie-Hellman key")
    p, g, y = peer.p, peer.g, peer.y
    if not is_standard_group(p, g):
        raise ProtocolError(
            f"unacceptable Diffie-Hellman group ({p.bit_length()}-bit prime, generator {g}): "
            "use RFC 2409 group 2 or RFC 3526 group 14, 15 or 16"
        )
    if not 1 < y < p - 1:
        raise ProtocolError("unacceptable Diffie-Hellman public value")
    x = secrets.randbits(EXPONENT_BITS) | (1 << (EXPONENT_BITS - 1))
    shared = _power(y, x, p).to_bytes((p.bit_length() + 7) // 8, "big")
    start = 0
    while start + AES_SESSION_KEY_SIZE < len(shared) and shared[start] == 0:
        start += 1
    key = shared[start : start + AES_SESSION_KEY_SIZE]
    mine = encode_key_numbers(DHKeyNumbers(p=p, g=g, y=_power(g, x, p)))
    return key, Writer().i32(ENCRYPT_ALG_AES).raw(mine).getvalue()


def _power(base: int, exponent: int, modulus: int) -> int:
    """``pow(base, exponent, modulus)``: the session setup's whole cost, one place."""
    return pow(base, exponent, modulus)
