"""Handle values as JSON, the way the CNRI REST API (``GsonUtility``) writes and reads them.

A value is ``{"index", "type", "data": {"format", "value"}, ["permissions"],
"ttl", ["timestamp"], ["references"]}``.  The data format is ``admin``,
``vlist``, ``site`` or ``key`` for HS_ADMIN, HS_VLIST, HS_SITE(.PREFIX) and
HS_PUBKEY data that decodes cleanly, else ``string`` for text and ``base64``
for anything that looks binary; ``hex`` is accepted on input.  Timestamps and
absolute TTLs are ISO 8601 UTC strings ``2024-01-02T03:04:05Z``.  Functions
take and return plain ``dict``/``list`` trees (serialise with any JSON library).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from protocol.admin_record import PERMISSION_ORDER, AdminRecord, decode_admin_record
from protocol.admin_record import encode_admin_record as _encode_admin
from protocol.constants import (
    RC_INVALID_VALUE,
    SP_HDL_HTTP,
    SP_HDL_HTTPS,
    SP_HDL_TCP,
    SP_HDL_UDP,
    ST_ADMIN,
    ST_QUERY,
    TYPE_HS_ADMIN,
    TYPE_HS_NA_DELEGATE,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_SITE,
    TYPE_HS_SITE_PREFIX,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import (
    DSAKeyNumbers,
    KeyNumbers,
    RSAKeyNumbers,
    decode_key_numbers,
    encode_key_numbers,
)
from protocol.references import decode_vlist, encode_vlist
from protocol.site_info import (
    Attribute,
    Interface,
    ServerInfo,
    SiteInfo,
    address_from_string,
    address_to_string,
    decode_site_info,
    encode_site_info,
)
from protocol.values import (
    DEFAULT_TTL,
    TTL_TYPE_ABSOLUTE,
    TTL_TYPE_RELATIVE,
    HandleValue,
    ValueReference,
    make_value,
)

Json = Any
_PROTOCOL_NAMES = {SP_HDL_UDP: "UDP", SP_HDL_TCP: "TCP", SP_HDL_HTTP: "HTTP", SP_HDL_HTTPS: "HTTPS"}
_PROTOCOL_CODES = {v: k for k, v in _PROTOCOL_NAMES.items()}


def _fail(what: str) -> ProtocolError:
    return ProtocolError(f"invalid JSON handle value: {what}", RC_INVALID_VALUE)


# ---------------------------------------------------------------- time and bytes


def format_timestamp(seconds: int) -> str:
    """``2024-01-02T03:04:05Z`` for epoch seconds (UTC, no fraction)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> int:
    """Epoch seconds from an ISO 8601 date-time (``Z`` or an offset; UTC if none)."""
    if not isinstance(text, str):
        raise _fail("timestamp must be a string")
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"bad timestamp {text[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    seconds = int(dt.timestamp())
    if not -(1 << 31) <= seconds < 1 << 31:
        raise _fail("timestamp out of range")
    return seconds


def looks_like_binary(data: bytes) -> bool:
    """``Util.looksLikeBinary``: not UTF-8, or a control octet other than 0x09-0x13."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any((b < 0x20 and not 0x09 <= b <= 0x13) or b == 0x7F for b in data)


def _b64decode(text: Any) -> bytes:
    """Lenient like commons-codec: standard or URL-safe alphabet, padding optional."""
    if not isinstance(text, str):
        raise _fail("base64 value must be a string")
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _fail("bad base64") from None


def _b64url_int(value: int) -> str:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# ------------------------------------------------------------------ structures


def admin_to_json(admin: AdminRecord) -> dict[str, Json]:
    """AdminRecord JSON: permissions as twelve 0/1 characters, LIST_HANDLES first."""
    bits = "".join("1" if admin.permissions & bit else "0" for bit in reversed(PERMISSION_ORDER))
    out: dict[str, Json] = {
        "handle": admin.admin_handle,
        "index": admin.admin_index,
        "permissions": bits,
    }
    if admin.legacy_byte_length:
        out["legacyByteLength"] = True
    return out


def _truthy(item: Any) -> bool:
    if item is None:
        return False
    if isinstance(item, bool):
        return item
    if isinstance(item, str):
        return item != ""
    if isinstance(item, int | float):
        return item == item and item != 0  # NaN and 0 are false
    return True


def _perm_string_bits(text: str) -> int:
    if text == "*":
        return sum(PERMISSION_ORDER)
    bits = 0
    for i, bit in enumerate(PERMISSION_ORDER):
        if i < len(text) and text[len(text) - 1 - i] == "1":
            bits |= bit
    return bits


def admin_from_json(obj: Json) -> AdminRecord:
    """AdminRecord from JSON (permissions as string, bool, number or array)."""
    if not isinstance(obj, dict):
        raise _fail("admin value must be an object")
    perms = obj.get("permissions")
    if perms is None:
        bits = 0
    elif isinstance(perms, bool):
        bits = sum(PERMISSION_ORDER) if perms else 0
    elif isinstance(perms, str):
        bits = _perm_string_bits(perms)
    elif isinstance(perms, int):
        bits = _perm_string_bits(
            format(perms, "b") if perms >= 0 else format(perms & 0xFFFFFFFF, "b")
        )
    elif isinstance(perms, list):
        bits = sum(bit for bit, item in zip(PERMISSION_ORDER, perms, strict=False) if _truthy(item))
    else:
        raise _fail("bad admin permissions")
    return AdminRecord(
        _str(obj, "handle"), _int(obj, "index"), bits, bool(obj.get("legacyByteLength", False))
    )


def key_to_json(numbers: KeyNumbers) -> dict[str, Json]:
    """JWK-like key JSON (DSA: y p q g; RSA: n e; base64url magnitudes)."""
    if isinstance(numbers, DSAKeyNumbers):
        return {
            "kty": "DSA",
            "y": _b64url_int(numbers.y),
            "p": _b64url_int(numbers.p),
            "q": _b64url_int(numbers.q),
            "g": _b64url_int(numbers.g),
        }
    if isinstance(numbers, RSAKeyNumbers):
        return {"kty": "RSA", "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}
    raise _fail("unsupported key type")


def key_from_json(obj: Json) -> KeyNumbers:
    """Key integers from key JSON."""
    if not isinstance(obj, dict):
        raise _fail("key value must be an object")
    kty = str(obj.get("kty", "")).upper()

    def part(name: str) -> int:
        return int.from_bytes(_b64decode(obj.get(name)), "big")

    if kty == "DSA":
        return DSAKeyNumbers(p=part("p"), q=part("q"), g=part("g"), y=part("y"))
    if kty == "RSA":
        return RSAKeyNumbers(n=part("n"), e=part("e"))
    raise _fail(f"unsupported key type {kty[:20]!r}")


def _public_key_json(raw: bytes) -> dict[str, Json]:
    try:
        return {"format": "key", "value": key_to_json(decode_key_numbers(raw))}
    except ProtocolError:
        return {"format": "base64", "value": base64.b64encode(raw).decode("ascii")}


def site_to_json(site: SiteInfo) -> dict[str, Json]:
    """SiteInfo JSON as ``SiteInfoGsonTypeAdapter`` writes it."""
    out: dict[str, Json] = {
        "version": site.data_format_version,
        "protocolVersion": f"{_jbyte(site.major_version)}.{_jbyte(site.minor_version)}",
        "serialNumber": site.serial_number,
        "primarySite": site.is_primary,
        "multiPrimary": site.multi_primary,
    }
    if site.hash_option != 2:
        out["hashOption"] = site.hash_option
    if site.hash_filter:
        out["hashFilter"] = _text(site.hash_filter)
    out["attributes"] = [{"name": _text(a.name), "value": _text(a.value)} for a in site.attributes]
    out["servers"] = [
        {
            "serverId": s.server_id,
            "address": address_to_string(s.address),
            "publicKey": _public_key_json(s.public_key),
            "interfaces": [
                {
                    "query": bool(i.type & ST_QUERY),
                    "admin": bool(i.type & ST_ADMIN),
                    "protocol": _PROTOCOL_NAMES.get(i.protocol, _jbyte(i.protocol)),
                    "port": i.port,
                }
                for i in s.interfaces
            ],
        }
        for s in site.servers
    ]
    return out


def _jbyte(v: int) -> int:
    return v - 256 if v > 127 else v


def _lower_keys_if_legacy(obj: dict[str, Json]) -> tuple[dict[str, Json], bool]:
    if any(k in obj for k in ("ServerList", "Address", "Port")):
        return {k[:1].lower() + k[1:]: v for k, v in obj.items()}, True
    return obj, False


def _interface_from_json(obj: Json) -> Interface:
    if not isinstance(obj, dict):
        raise _fail("interface must be an object")
    obj, _ = _lower_keys_if_legacy(obj)
    query, admin = bool(obj.get("query")), bool(obj.get("admin"))
    proto = obj.get("protocol")
    if isinstance(proto, str) and proto in _PROTOCOL_CODES:
        protocol = _PROTOCOL_CODES[proto]
    else:
        try:
            protocol = int(proto) & 0xFF
        except (TypeError, ValueError):
            raise _fail("bad interface protocol") from None
    return Interface(
        (ST_QUERY if query else 0) | (ST_ADMIN if admin else 0), protocol, _int(obj, "port")
    )


def _server_from_json(obj: Json) -> ServerInfo:
    if not isinstance(obj, dict):
        raise _fail("server must be an object")
    obj, legacy = _lower_keys_if_legacy(obj)
    key = obj.get("publicKey")
    if legacy and isinstance(key, str):
        try:
            public_key = bytes.fromhex(key)
        except ValueError:
            raise _fail("bad hex public key") from None
    else:
        public_key = data_from_json(key) if key is not None else b""
    interfaces = obj.get("interfaces", obj.get("interfaceList")) or []
    if not isinstance(interfaces, list):
        raise _fail("interfaces must be a list")
    return ServerInfo(
        _int(obj, "serverId"),
        address_from_string(_str(obj, "address")),
        public_key,
        tuple(_interface_from_json(i) for i in interfaces),
    )


def _attributes_from_json(obj: Json) -> tuple[Attribute, ...]:
    if isinstance(obj, list):
        return tuple(Attribute(_str(a, "name").encode(), _str(a, "value").encode()) for a in obj)
    if isinstance(obj, dict):
        out = []
        for name, value in obj.items():
            for v in value if isinstance(value, list) else [value]:
                out.append(Attribute(str(name).encode(), str(v).encode()))
        return tuple(out)
    raise _fail("bad attributes")


def site_from_json(obj: Json) -> SiteInfo:
    """SiteInfo from JSON (also the capitalised legacy form)."""
    if not isinstance(obj, dict):
        raise _fail("site value must be an object")
    obj, _ = _lower_keys_if_legacy(obj)
    major, minor = 2, 10
    if "protocolVersion" in obj:
        try:
            major_s, minor_s = str(obj["protocolVersion"]).split(".", 1)
            major, minor = int(major_s) & 0xFF, int(minor_s) & 0xFF
        except ValueError:
            raise _fail("bad protocolVersion") from None
    servers = obj.get("servers", obj.get("serverList")) or []
    if not isinstance(servers, list):
        raise _fail("servers must be a list")
    return SiteInfo(
        serial_number=_int_or(obj, "serialNumber", 0),
        servers=tuple(_server_from_json(s) for s in servers),
        is_primary=bool(obj.get("primarySite", False)),
        multi_primary=bool(obj.get("multiPrimary", False)),
        hash_option=_int_or(obj, "hashOption", 2),
        hash_filter=str(obj.get("hashFilter", "")).encode(),
        attributes=_attributes_from_json(obj.get("attributes", [])),
        data_format_version=_int_or(obj, "version", 1),
        major_version=major,
        minor_version=minor,
    )


# ----------------------------------------------------------------------- data


def data_to_json(type_name: str, data: bytes) -> dict[str, Json]:
    """The ``data`` member for a value of ``type_name`` (``GsonUtility.serializeData``)."""
    try:
        if type_name == TYPE_HS_ADMIN:
            return {"format": "admin", "value": admin_to_json(decode_admin_record(data))}
        if type_name == TYPE_HS_VLIST:
            refs = decode_vlist(data)
            return {
                "format": "vlist",
                "value": [{"handle": r.handle, "index": r.index} for r in refs],
            }
        if type_name in (TYPE_HS_SITE, TYPE_HS_SITE_PREFIX, TYPE_HS_NA_DELEGATE):
            return {"format": "site", "value": site_to_json(decode_site_info(data))}
        if type_name == TYPE_HS_PUBKEY:
            return {"format": "key", "value": key_to_json(decode_key_numbers(data))}
    except ProtocolError:
        pass
    if looks_like_binary(data):
        return {"format": "base64", "value": base64.b64encode(data).decode("ascii")}
    return {"format": "string", "value": data.decode("utf-8")}


#: HS_ADMIN data made from admin objects of the plain shape, by (handle, index,
#: permissions): every REST create carries one naming its writer, the same every time
_admin_made: dict[tuple[str, int, str], bytes] = {}
ADMIN_MADE_KEPT = 4096


def _admin_data(obj: Json) -> bytes:
    """HS_ADMIN data from an admin object (:func:`admin_from_json`); one of the plain
    shape (a string handle, an integer index and a permissions string, nothing else)
    made once for its three members."""
    if not (type(obj) is dict and len(obj) == 3 and type(handle := obj.get("handle")) is str
            and type(index := obj.get("index")) is int
            and type(perms := obj.get("permissions")) is str):
        return _encode_admin(admin_from_json(obj))
    key = (handle, index, perms)
    data = _admin_made.get(key)
    if data is None:
        data = _encode_admin(admin_from_json(obj))
        if len(_admin_made) >= ADMIN_MADE_KEPT:
            _admin_made.clear()
        _admin_made[key] = data
    return data


def data_from_json(obj: Json) -> bytes:
    """Value bytes from a ``data`` member (a bare string is UTF-8 text)."""
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if not isinstance(obj, dict) or not isinstance(obj.get("format"), str):
        raise _fail("data must be a string or an object with a format")
    fmt = obj["format"].lower()
    value = obj.get("value")
    if fmt == "string":
        if not isinstance(value, str):
            raise _fail("string data must be a string")
        return value.encode("utf-8")
    if fmt == "base64":
        return _b64decode(value)
    if fmt == "hex":
        try:
            return bytes.fromhex(str(value))
        except ValueError:
            raise _fail("bad hex") from None
    if fmt == "admin":
        return _admin_data(value)
    if fmt == "vlist":
        if not isinstance(value, list):
            raise _fail("vlist must be a list")
        return encode_vlist([ValueReference(_str(r, "handle"), _int(r, "index")) for r in value])
    if fmt == "site":
        return encode_site_info(site_from_json(value))
    if fmt == "key":
        return encode_key_numbers(key_from_json(value))
    raise _fail(f"unexpected format {fmt[:20]!r}")


# --------------------------------------------------------------------- values


def value_to_json(value: HandleValue) -> dict[str, Json]:
    """One value as the CNRI REST API shows it."""
    out: dict[str, Json] = {
        "index": value.index,
        "type": value.type,
        "data": data_to_json(value.type, value.data),
    }
    cnri_default = value.admin_read and value.admin_write and value.public_read
    # a secret key always says its permissions: readers may default either way
    if not cnri_default or value.public_write or value.type.upper() == TYPE_HS_SECKEY:
        out["permissions"] = "".join(
            "1" if f else "0"
            for f in (value.admin_read, value.admin_write, value.public_read, value.public_write)
        )
    if value.ttl_type == TTL_TYPE_RELATIVE:
        out["ttl"] = value.ttl
    else:
        out["ttl"] = format_timestamp(value.ttl)
    if value.timestamp != 0:
        out["timestamp"] = format_timestamp(value.timestamp)
    if value.references:
        out["references"] = [{"handle": r.handle, "index": r.index} for r in value.references]
    return out


def _str(obj: Json, key: str) -> str:
    v = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(v, str):
        raise _fail(f"{key} must be a string")
    return v


def _int(obj: Json, key: str) -> int:
    v = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _fail(f"{key} must be an integer")
    try:
        n = int(v)
    except ValueError:
        raise _fail(f"{key} must be an integer") from None
    if not -(1 << 31) <= n < 1 << 31:
        raise _fail(f"{key} out of range")
    return n


def _int_or(obj: dict[str, Json], key: str, default: int) -> int:
    """``_int`` for a member that may be left out (found by tests/fuzz: a list
    there raised TypeError instead of ProtocolError)."""
    return _int(obj, key) if key in obj else default


def _permissions(perms: Any, type_name: str) -> dict[str, bool]:
    """The permission flags of a value; left out, the defaults, except that a secret
    key is never public unless said so (CNRI's default would publish it)."""
    secret = type_name.upper() == TYPE_HS_SECKEY
    flags = {"admin_read": True, "admin_write": True, "public_read": not secret,
             "public_write": False}
    if perms is None:
        return flags
    if not isinstance(perms, str):
        raise _fail("permissions must be a string")
    if perms == "*":
        return dict.fromkeys(flags, True)
    # counted from the right like GsonUtility.deserializePermissions, but a
    # four-character string sets all four (CNRI's "length > 4" test would make
    # its own "0110" output lose the admin-read bit)
    names = ("public_write", "public_read", "admin_write", "admin_read")
    for pos, name in enumerate(names, start=1):
        if len(perms) >= pos:
            flags[name] = perms[len(perms) - pos] == "1"
    return flags


_PLAIN_KEYS = frozenset(("index", "type", "data", "ttl"))
#: a type of another length is not HS_SECKEY in any case (no character upper-cases to two
#: or more of its letters), so most values skip the upper-cased copy
_SECKEY_LENGTH = len(TYPE_HS_SECKEY)
_INT_RANGE = range(-(1 << 31), 1 << 31)


def _plain_value(obj: dict[str, Json]) -> HandleValue | None:
    """The value of the common shape (an integer index and TTL, a type, string or admin
    data, the default permissions; nothing else), as :func:`value_from_json` reads it,
    or None for any other shape.  Bulk imports read millions of these, REST creates an
    HS_ADMIN each."""
    if not obj.keys() <= _PLAIN_KEYS:
        return None
    index, type_name, data, ttl = obj.get("index"), obj.get("type"), obj.get("data"), \
        obj.get("ttl", DEFAULT_TTL)
    if type(index) is not int or type(ttl) is not int or type(type_name) is not str \
            or index not in _INT_RANGE or ttl not in _INT_RANGE:
        return None
    if type(data) is dict and data.get("format") == "string" and len(data) == 2 \
            and type(text := data.get("value")) is str:
        raw = text.encode("utf-8")
    elif type(data) is str:
        raw = data.encode("utf-8")
    elif type(data) is dict and data.get("format") == "admin" and len(data) == 2:
        raw = data_from_json(data)  # an HS_ADMIN, as every create carries
    else:
        return None
    return make_value(index, type_name, raw, TTL_TYPE_RELATIVE, ttl, 0, True, True,
                      len(type_name) != _SECKEY_LENGTH or type_name.upper() != TYPE_HS_SECKEY,
                      False, ())


def value_from_json(obj: Json) -> HandleValue:
    """A HandleValue from REST JSON; ProtocolError (RC_INVALID_VALUE) if malformed."""
    if not isinstance(obj, dict):
        raise _fail("value must be an object")
    if (plain := _plain_value(obj)) is not None:
        return plain
    ttl_type, ttl = TTL_TYPE_RELATIVE, DEFAULT_TTL
    raw_ttl = obj.get("ttl")
    if isinstance(raw_ttl, str):
        ttl_type, ttl = TTL_TYPE_ABSOLUTE, parse_timestamp(raw_ttl)
    elif isinstance(raw_ttl, int) and not isinstance(raw_ttl, bool):
        ttl = _int(obj, "ttl")
    elif raw_ttl is not None:
        raise _fail("bad ttl")
    refs = obj.get("references") or []
    if not isinstance(refs, list):
        raise _fail("references must be a list")
    timestamp = parse_timestamp(obj["timestamp"]) if "timestamp" in obj else 0
    if "data" not in obj:
        raise _fail("missing data")
    type_name = _str(obj, "type")
    return HandleValue(
        index=_int(obj, "index"),
        type=type_name,
        data=data_from_json(obj["data"]),
        ttl_type=ttl_type,
        ttl=ttl,
        timestamp=timestamp,
        references=tuple(ValueReference(_str(r, "handle"), _int(r, "index")) for r in refs),
        **_permissions(obj.get("permissions"), type_name),
    )


def values_to_json(values: list[HandleValue] | tuple[HandleValue, ...]) -> list[dict[str, Json]]:
    """A list of values as JSON."""
    return [value_to_json(v) for v in values]


def values_from_json(items: Json) -> tuple[HandleValue, ...]:
    """Values from a JSON list."""
    if not isinstance(items, list):
        raise _fail("values must be a list")
    return tuple(value_from_json(v) for v in items)
