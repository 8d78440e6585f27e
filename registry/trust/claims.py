"""The JWS payload of HS_SIGNATURE and HS_CERT values: Handle 9's ``HandleClaimsSet``.

JSON members, as ``net.handle.hdllib.trust.HandleClaimsSet`` names them:

``iss``
    the signer as a value reference ``"index:handle"`` (``ValueReference.toString``)
``sub``
    the signed handle (HS_SIGNATURE) or the certified ``"index:handle"`` (HS_CERT)
``iat``, ``nbf``, ``exp``
    issue time and validity window, epoch seconds
``digests``
    ``{"alg": "SHA-256", "digests": [{"index": 1, "digest": "<base64>"}, ...]}``
``publicKey``
    the certified key as a JWK (HS_CERT)
``perms``
    ``[{"handle": "0.NA/88.118.8", "perm": "handlesUnderThisPrefix"}, ...]`` (HS_CERT)
``chain``
    Handle 9's list of where the certificates above the issuer are (HS_SIGNATURE;
    followed by :mod:`registry.trust.verify`, written by :func:`~registry.trust.sign_record`)

plus one member of our own, ``revoked``: ``[{"jkt": "<RFC 7638 thumbprint>"}]``
in an HS_REVOCATION value (see :mod:`registry.trust.certs`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from registry.names import name_key
from registry.trust.errors import ClaimsError, TrustError
from registry.trust.keys import PublicKey, jwk_to_public_key, public_key_to_jwk

# Handle 9 ``Permission`` values
PERM_EVERYTHING = "everything"
PERM_THIS_HANDLE = "thisHandle"
PERM_DERIVED_PREFIXES = "derivedPrefixes"
PERM_HANDLES_UNDER_THIS_PREFIX = "handlesUnderThisPrefix"
_NA = "0.NA/"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Permission:
    """Authority a certificate grants over ``handle`` (usually a ``0.NA/`` prefix handle)."""

    handle: str
    perm: str


def prefix_permissions(
    prefix_handle: str, *, derived_prefixes: bool = False
) -> tuple[Permission, ...]:
    """The usual grant for a prefix handle ``0.NA/X``: the handle itself and every ``X/...``
    handle; with ``derived_prefixes`` also every ``X.Y`` prefix below it (a node's grant)."""
    perms = [
        Permission(prefix_handle, PERM_THIS_HANDLE),
        Permission(prefix_handle, PERM_HANDLES_UNDER_THIS_PREFIX),
    ]
    if derived_prefixes:
        perms.append(Permission(prefix_handle, PERM_DERIVED_PREFIXES))
    return tuple(perms)


def _zero_na(handle: str) -> str:
    prefix, slash, _ = handle.partition("/")
    return name_key(_NA + prefix) if slash else name_key("0.NA/0.NA")


def _under_prefix(handle: str, prefix_handle: str) -> bool:
    prefix = name_key(prefix_handle)
    return prefix.startswith(_NA) and name_key(handle).startswith(prefix[len(_NA) :] + "/")


def _derived_from(handle: str, ancestor: str) -> bool:
    handle = name_key(handle)
    return handle.startswith(_NA) and handle.startswith(name_key(ancestor) + ".")


def authorizes(perms: tuple[Permission, ...], handle: str) -> bool:
    """Whether ``perms`` cover ``handle`` (``verifyPermissionsAreAuthorizedOverHandle``)."""
    for p in perms:
        if p.perm == PERM_EVERYTHING:
            return True
        same = name_key(handle) == name_key(p.handle)
        if p.perm == PERM_THIS_HANDLE and (same or _under_prefix(handle, p.handle)):
            return True
        if p.perm == PERM_DERIVED_PREFIXES and (
            _derived_from(handle, p.handle) or _derived_from(_zero_na(handle), p.handle)
        ):
            return True
        if p.perm == PERM_HANDLES_UNDER_THIS_PREFIX and _under_prefix(handle, p.handle):
            return True
    return False


@dataclass(frozen=True, slots=True)
class ValueRef:
    """A handle value reference written ``"index:handle"`` (Handle 9 ``ValueReference``)."""

    handle: str
    index: int

    def __str__(self) -> str:
        return f"{self.index}:{self.handle}"

    @classmethod
    def parse(cls, text: str) -> ValueRef:
        """As ``ValueReference.fromString``: no numeric ``index:`` part means index 0."""
        head, colon, tail = text.partition(":")
        if colon and head.isdigit():
            return cls(tail, int(head))
        return cls(text, 0)

    def same(self, other: ValueRef) -> bool:
        """Equal index and handle names that compare equal case-insensitively."""
        return self.index == other.index and name_key(self.handle) == name_key(other.handle)


@dataclass(frozen=True, slots=True)
class Digests:
    """``DigestedHandleValues``: the hash algorithm label and base64 digest per value index."""

    alg: str
    digests: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class HandleClaims:
    """A Handle claims set; ``None`` members are absent from the JSON."""

    iss: str
    sub: str
    iat: int | None = None
    nbf: int | None = None
    exp: int | None = None
    digests: Digests | None = None
    public_key: PublicKey | None = None
    perms: tuple[Permission, ...] | None = None
    chain: tuple[str, ...] | None = None
    revoked: tuple[str, ...] | None = None

    def date_problem(self, now: int) -> str | None:
        """``"expired"`` or ``"not yet valid"`` at ``now``, or None (``isDateInRange``)."""
        if self.exp is not None and now > self.exp:
            return "expired"
        if self.nbf is not None and now < self.nbf:
            return "not yet valid"
        return None

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON, the JWS payload."""
        obj: dict[str, Any] = {"iss": self.iss, "sub": self.sub}
        for name in ("iat", "nbf", "exp"):
            if getattr(self, name) is not None:
                obj[name] = getattr(self, name)
        if self.digests is not None:
            obj["digests"] = {
                "alg": self.digests.alg,
                "digests": [{"index": i, "digest": d} for i, d in self.digests.digests],
            }
        if self.public_key is not None:
            obj["publicKey"] = public_key_to_jwk(self.public_key)
        if self.perms is not None:
            obj["perms"] = [{"handle": p.handle, "perm": p.perm} for p in self.perms]
        if self.chain is not None:
            obj["chain"] = list(self.chain)
        if self.revoked is not None:
            obj["revoked"] = [{"jkt": t} for t in self.revoked]
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes) -> HandleClaims:
        """Parse a JWS payload; :class:`ClaimsError` if it is not a Handle claims set."""
        try:
            obj = json.loads(payload)
            if not isinstance(obj, dict):
                raise ClaimsError("claims must be a JSON object")
            return cls(
                iss=_text(obj.get("iss", "")),
                sub=_text(obj.get("sub", "")),
                iat=_time(obj.get("iat")),
                nbf=_time(obj.get("nbf")),
                exp=_time(obj.get("exp")),
                digests=_digests(obj.get("digests")),
                public_key=None
                if obj.get("publicKey") is None
                else jwk_to_public_key(obj["publicKey"]),
                perms=_optional(
                    obj.get("perms"), lambda p: Permission(_text(p["handle"]), _text(p["perm"]))
                ),
                chain=_optional(obj.get("chain"), _text),
                revoked=_optional(obj.get("revoked"), lambda r: _text(r["jkt"])),
            )
        except (ValueError, KeyError, TypeError, TrustError) as exc:
            raise ClaimsError(f"bad handle claims: {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ClaimsError(f"expected a string, got {type(value).__name__}")
    return value


def _time(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClaimsError(f"times are integer epoch seconds, got {value!r}")
    return value


def _items(items: Any, convert: Callable[[Any], _T]) -> tuple[_T, ...]:
    if not isinstance(items, list):
        raise ClaimsError("expected a JSON array")
    return tuple(convert(item) for item in items)


def _optional(items: Any, convert: Callable[[Any], _T]) -> tuple[_T, ...] | None:
    return None if items is None else _items(items, convert)


def _digests(obj: Any) -> Digests | None:
    if obj is None:
        return None
    pairs = _items(obj["digests"], lambda d: (_index(d["index"]), _text(d["digest"])))
    return Digests(_text(obj["alg"]), pairs)


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClaimsError(f"a value index is an integer, got {value!r}")
    return value
