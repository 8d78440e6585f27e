"""HS_PUBKEY value data <-> public keys (``Util.getBytesFromPublicKey``/``getPublicKeyFromBytes``).

Layout: ``key_type:bytes flags:int2`` followed by, for

* ``DSA_PUB_KEY``: q, p, g, y
* ``RSA_PUB_KEY``: e, n
* ``DH_PUB_KEY``:  y, p, g

each a length-prefixed big-endian two's-complement integer exactly as Java's
``BigInteger.toByteArray`` writes it (a leading zero octet when the top bit is
set).  CNRI allocates room for one length field too many for RSA, so its RSA
encoding ends with four zero octets; we write them too and ignore trailing
bytes on input.  CNRI 9.x defines no elliptic-curve encoding, so neither do we.  DH keys
(used only for session key exchange) are decoded to numbers, not key objects,
because ``cryptography`` deprecates finite-field DH.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from protocol.constants import (
    KEY_ENCODING_DH_PUBLIC,
    KEY_ENCODING_DSA_PUBLIC,
    KEY_ENCODING_RSA_PUBLIC,
)
from protocol.dsa_keys import DSAPublicKey
from protocol.errors import ProtocolError
from protocol.key_types import HandlePublicKey
from protocol.wire import Reader, Writer


@dataclass(frozen=True, slots=True)
class DSAKeyNumbers:
    """The integers of a DSA public key."""

    p: int
    q: int
    g: int
    y: int


@dataclass(frozen=True, slots=True)
class RSAKeyNumbers:
    """The integers of an RSA public key."""

    n: int
    e: int


@dataclass(frozen=True, slots=True)
class DHKeyNumbers:
    """The integers of a Diffie-Hellman public key."""

    p: int
    g: int
    y: int


KeyNumbers = DSAKeyNumbers | RSAKeyNumbers | DHKeyNumbers


def java_bigint_bytes(value: int) -> bytes:
    """``BigInteger.toByteArray()`` of a non-negative integer."""
    if value < 0:
        raise ProtocolError("negative key component")
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big")  # new BigInteger(1, raw)


def encode_key_numbers(numbers: KeyNumbers, flags: int = 0) -> bytes:
    """HS_PUBKEY bytes from key integers."""
    w = Writer()
    if isinstance(numbers, DSAKeyNumbers):
        w.byte_array(KEY_ENCODING_DSA_PUBLIC).i16(flags)
        parts: tuple[int, ...] = (numbers.q, numbers.p, numbers.g, numbers.y)
    elif isinstance(numbers, RSAKeyNumbers):
        w.byte_array(KEY_ENCODING_RSA_PUBLIC).i16(flags)
        parts = (numbers.e, numbers.n)
    elif isinstance(numbers, DHKeyNumbers):
        w.byte_array(KEY_ENCODING_DH_PUBLIC).i16(flags)
        parts = (numbers.y, numbers.p, numbers.g)
    else:
        raise ProtocolError(f"unsupported key type {type(numbers).__name__}")
    for part in parts:
        w.byte_array(java_bigint_bytes(part))
    if isinstance(numbers, RSAKeyNumbers):
        # CNRI sizes the RSA buffer for four length fields but writes three
        w.raw(b"\0\0\0\0")
    return w.getvalue()


def decode_key_numbers(data: bytes) -> KeyNumbers:
    """Key integers from HS_PUBKEY bytes (no cryptographic validation)."""
    r = Reader(data)
    key_type = r.byte_array()
    r.i16()  # flags, reserved
    if key_type == KEY_ENCODING_DSA_PUBLIC:
        q, p, g, y = (_uint(r.byte_array()) for _ in range(4))
        return DSAKeyNumbers(p=p, q=q, g=g, y=y)
    if key_type == KEY_ENCODING_RSA_PUBLIC:
        e, n = (_uint(r.byte_array()) for _ in range(2))
        return RSAKeyNumbers(n=n, e=e)
    if key_type == KEY_ENCODING_DH_PUBLIC:
        y, p, g = (_uint(r.byte_array()) for _ in range(3))
        return DHKeyNumbers(p=p, g=g, y=y)
    raise ProtocolError(f"unknown public key type {key_type[:32]!r}")


def key_numbers(key: HandlePublicKey) -> KeyNumbers:
    """The integers of a ``cryptography`` public key."""
    if isinstance(key, DSAPublicKey):
        dn = key.public_numbers()
        pn = dn.parameter_numbers
        return DSAKeyNumbers(p=pn.p, q=pn.q, g=pn.g, y=dn.y)
    if isinstance(key, rsa.RSAPublicKey):
        rn = key.public_numbers()
        return RSAKeyNumbers(n=rn.n, e=rn.e)
    raise ProtocolError(f"unsupported public key type {type(key).__name__}")


def encode_public_key(key: HandlePublicKey) -> bytes:
    """HS_PUBKEY bytes of a ``cryptography`` DSA or RSA public key."""
    return encode_key_numbers(key_numbers(key))


def public_key_from_numbers(numbers: KeyNumbers) -> HandlePublicKey:
    """A ``cryptography`` key object for key integers (ProtocolError if invalid)."""
    try:
        if isinstance(numbers, DSAKeyNumbers):
            params = dsa.DSAParameterNumbers(numbers.p, numbers.q, numbers.g)
            return dsa.DSAPublicNumbers(numbers.y, params).public_key()
        if isinstance(numbers, RSAKeyNumbers):
            check_rsa_numbers(numbers)
            return rsa.RSAPublicNumbers(numbers.e, numbers.n).public_key()
        raise ProtocolError("Diffie-Hellman keys are only available as numbers")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(f"invalid public key: {exc}") from None


#: RSA keys accepted: public exponent 3 .. 2**32 + 1 (verification costs one
#: multiplication per exponent bit, so a huge exponent makes each check as dear
#: as signing), modulus 1024 .. 16384 bits
RSA_MAX_EXPONENT = 2**32 + 1
RSA_MIN_BITS = 1024
RSA_MAX_BITS = 16384


def check_rsa_numbers(numbers: RSAKeyNumbers) -> None:
    """Raise ProtocolError for an RSA key no honest signer makes (see the limits above)."""
    e, n = numbers.e, numbers.n
    if not (3 <= e <= RSA_MAX_EXPONENT and e % 2 == 1):
        raise ProtocolError(f"RSA public exponent must be odd and 3..2^32+1, got {e.bit_length()}"
                            f"-bit {'even' if e % 2 == 0 else 'odd'} value")
    if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS or n % 2 == 0:
        raise ProtocolError(f"RSA modulus of {n.bit_length()} bits is out of range")


def decode_public_key(data: bytes) -> HandlePublicKey:
    """A ``cryptography`` public key from HS_PUBKEY bytes."""
    return public_key_from_numbers(decode_key_numbers(data))
