"""REST JSON: hand-written expected JSON as CNRI GsonUtility produces it, and round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import rest_json
from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.errors import ProtocolError
from protocol.public_key import RSAKeyNumbers, encode_key_numbers
from protocol.references import encode_vlist
from protocol.rest_json import (
    format_timestamp,
    parse_timestamp,
    site_from_json,
    site_to_json,
    value_from_json,
    value_to_json,
)
from protocol.site_info import SiteInfo, address_to_string, decode_site_info, encode_site_info
from protocol.values import HandleValue, ValueReference

from .strategies import admin_records, int32, refs, sites
from .test_golden import SITE_DATA, URL_HV


def test_url_value_json() -> None:
    assert value_to_json(URL_HV) == {
        "index": 1,
        "type": "URL",
        "data": {"format": "string", "value": "https://example.com/tv"},
        "ttl": 86400,
        "timestamp": "2024-01-02T03:04:05Z",
    }
    assert value_from_json(value_to_json(URL_HV)) == URL_HV


def test_binary_permissions_absolute_ttl_references() -> None:
    hv = HandleValue(
        7,
        "BLOB",
        b"\x00\x01",
        ttl_type=1,
        ttl=1700000000,
        public_read=False,
        references=(ValueReference("88.118/x", 2),),
    )
    out = value_to_json(hv)
    assert out == {
        "index": 7,
        "type": "BLOB",
        "data": {"format": "base64", "value": "AAE="},
        "permissions": "1100",
        "ttl": "2023-11-14T22:13:20Z",
        "references": [{"handle": "88.118/x", "index": 2}],
    }
    assert value_from_json(json.loads(json.dumps(out))) == hv


def test_admin_json() -> None:
    data = encode_admin_record(AdminRecord("0.NA/88.118", 200, 0x0FF2))
    out = value_to_json(HandleValue(100, "HS_ADMIN", data))
    assert out["data"] == {
        "format": "admin",
        "value": {"handle": "0.NA/88.118", "index": 200, "permissions": "111111110010"},
    }
    assert value_from_json(out).data == data
    # other permission spellings CNRI accepts
    for perms, bits in (("*", 0x0FFF), (True, 0x0FFF), (0b101, 0x0005), ([1, 0, "x"], 0x0005)):
        obj = {
            "index": 1,
            "type": "HS_ADMIN",
            "data": {
                "format": "admin",
                "value": {"handle": "a/b", "index": 3, "permissions": perms},
            },
        }
        assert value_from_json(obj).data == encode_admin_record(AdminRecord("a/b", 3, bits))


def test_site_json() -> None:
    assert site_to_json(decode_site_info(SITE_DATA)) == {
        "version": 1,
        "protocolVersion": "2.11",
        "serialNumber": 3,
        "primarySite": True,
        "multiPrimary": False,
        "attributes": [{"name": "desc", "value": "test"}],
        "servers": [
            {
                "serverId": 1,
                "address": "127.0.0.1",
                "publicKey": {"format": "base64", "value": "AQID"},
                "interfaces": [
                    {"query": True, "admin": True, "protocol": "TCP", "port": 2641},
                    {"query": True, "admin": False, "protocol": "UDP", "port": 2641},
                ],
            }
        ],
    }
    out = value_to_json(HandleValue(1, "HS_SITE", SITE_DATA))
    assert out["data"]["format"] == "site"
    assert value_from_json(out).data == SITE_DATA


def test_legacy_capitalised_site_json() -> None:
    legacy = {
        "Version": 1,
        "ProtocolVersion": "2.1",
        "SerialNumber": 2,
        "PrimarySite": True,
        "ServerList": [
            {
                "ServerId": 1,
                "Address": "10.0.0.1",
                "PublicKey": "0a0b",
                "InterfaceList": [{"Query": True, "Admin": False, "Protocol": "UDP", "Port": 2641}],
            }
        ],
    }
    site = site_from_json(legacy)
    assert site.servers[0].public_key == b"\x0a\x0b"
    assert site.servers[0].address == bytes(12) + bytes([10, 0, 0, 1])
    assert site.servers[0].interfaces[0].protocol == 0
    assert (site.major_version, site.minor_version) == (2, 1)


def test_key_and_vlist_json() -> None:
    blob = encode_key_numbers(RSAKeyNumbers(n=0xC3F1, e=65537))
    out = value_to_json(HandleValue(300, "HS_PUBKEY", blob))
    assert out["data"] == {"format": "key", "value": {"kty": "RSA", "n": "w_E", "e": "AQAB"}}
    assert value_from_json(out).data == blob
    vl = encode_vlist([ValueReference("0.NA/88.118", 200)])
    out = value_to_json(HandleValue(2, "HS_VLIST", vl))
    assert out["data"] == {"format": "vlist", "value": [{"handle": "0.NA/88.118", "index": 200}]}
    assert value_from_json(out).data == vl
    # hex input and plain-string data
    assert (
        value_from_json({"index": 1, "type": "X", "data": {"format": "hex", "value": "0aff"}}).data
        == b"\x0a\xff"
    )
    assert value_from_json({"index": 1, "type": "X", "data": "plain"}).data == b"plain"


def test_ipv6_text_as_cnri() -> None:
    assert address_to_string(bytes.fromhex("20010db8000000000000000000000001")) == "2001:db8::1"
    # CNRI only compresses a zero run that a non-zero word ends
    assert address_to_string(bytes.fromhex("20010db8" + "00" * 12)) == "2001:db8:0:0:0:0:0:0"
    assert address_to_string(bytes.fromhex("00" * 10 + "ffff" + "01020304")) == "::ffff:102:304"


def test_timestamps() -> None:
    assert format_timestamp(0) == "1970-01-01T00:00:00Z"
    assert parse_timestamp("2024-01-02T03:04:05Z") == 1704164645
    assert parse_timestamp("2024-01-02T04:04:05+01:00") == 1704164645
    with pytest.raises(ProtocolError):
        parse_timestamp("yesterday")


plain_values = st.builds(
    HandleValue,
    index=int32,
    type=st.sampled_from(["URL", "EMAIL", "DESC", "X.Y"]),
    data=st.one_of(st.binary(max_size=30), st.text(max_size=30).map(str.encode)),
    ttl_type=st.integers(0, 1),
    ttl=int32,
    timestamp=int32,
    admin_read=st.booleans(),
    admin_write=st.booleans(),
    public_read=st.booleans(),
    public_write=st.booleans(),
    references=st.lists(refs, max_size=2).map(tuple),
)


@given(plain_values)
def test_value_json_roundtrip(hv: HandleValue) -> None:
    assert value_from_json(json.loads(json.dumps(value_to_json(hv)))) == hv


@given(admin_records)
def test_admin_json_roundtrip(rec: AdminRecord) -> None:
    hv = HandleValue(1, "HS_ADMIN", encode_admin_record(rec))
    assert value_from_json(value_to_json(hv)) == hv


@given(sites)
def test_site_json_idempotent(site: SiteInfo) -> None:
    once = site_to_json(decode_site_info(encode_site_info(site)))
    again = site_to_json(decode_site_info(encode_site_info(site_from_json(once))))
    assert again == once


_SHAPES = [
    {"index": index, "type": type_, "data": data, **({} if ttl is None else {"ttl": ttl}), **extra}
    for index in (1, 0, -5, 2**31 - 1, 2**31, True, "3")
    # "\u017f" (long s) upper-cases to "S"; "\u00df" (sharp s) to "SS"
    for type_ in ("URL", "HS_SECKEY", "hs_seckey", "hs_\u017feckey", "HS_SECKEYS",
                  "HS_\u00dfECKEY", "", 5)
    for data in ("abc", {"format": "string", "value": "é"}, {"format": "String", "value": "x"},
                 {"format": "string", "value": 5}, {"format": "string", "value": "x", "y": 1},
                 {"format": "hex", "value": "00"},
                 {"format": "admin", "value": {"handle": "0.NA/p", "index": 300,
                                               "permissions": "011111111111"}},
                 {"format": "admin", "value": {"handle": "0.NA/p", "index": 0}},
                 {"format": "Admin", "value": {"handle": "0.NA/p", "index": 300}},
                 {"format": "admin", "value": {"handle": 5, "index": 300}},
                 {"format": "admin", "value": "0.NA/p"},
                 {"format": "admin", "value": {"handle": "0.NA/p", "index": 1}, "y": 1})
    for ttl in (None, 60, True, 2**31, "2024-01-01T00:00:00Z")
    for extra in ({}, {"permissions": "1110"}, {"references": []})
]


def _outcome(read: object, obj: object) -> object:
    try:
        return read(obj)  # type: ignore[operator]
    except ProtocolError as exc:
        return str(exc)


def test_the_plain_value_fast_path_reads_as_the_full_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the bulk import's common shape is read by a shortcut (issue 17): same value, same error
    fast = [_outcome(rest_json.value_from_json, obj) for obj in _SHAPES]
    assert sum(not isinstance(found, str) for found in fast) > 100  # both kinds are tried
    monkeypatch.setattr(rest_json, "_plain_value", lambda _obj: None)
    assert fast == [_outcome(rest_json.value_from_json, obj) for obj in _SHAPES]


ADMIN_OBJECTS = [
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": "111111111111"},
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": "011111110011"},
    {"handle": "0.NA/88.118.8", "index": 301, "permissions": "*"},
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": True},
    {"handle": "0.NA/88.118.8", "index": "300", "permissions": "1"},
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": [1, 0, 1]},
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": "1", "legacyByteLength": True},
]


@pytest.mark.parametrize("obj", ADMIN_OBJECTS)
def test_admin_data_is_made_once_as_each_time(obj: dict[str, object]) -> None:
    """HS_ADMIN data of the plain admin object is kept by its members: the same bytes
    as made each time, whichever shape."""
    made = encode_admin_record(rest_json.admin_from_json(obj))
    for _ in range(2):
        assert rest_json.data_from_json({"format": "admin", "value": dict(obj)}) == made


@pytest.mark.parametrize("obj", [
    {"handle": "0.NA/88.118.8", "index": 1 << 31, "permissions": "1"},
    {"handle": 5, "index": 300, "permissions": "1"},
    {"handle": "0.NA/88.118.8", "index": 300, "permissions": 1.5},
])
def test_bad_admin_objects_fail_every_time(obj: dict[str, object]) -> None:
    for _ in range(2):
        with pytest.raises(ProtocolError):
            rest_json.data_from_json({"format": "admin", "value": obj})
    assert not any(key[1] == 1 << 31 for key in rest_json._admin_made)


def test_kept_admin_data_is_bounded() -> None:
    for n in range(rest_json.ADMIN_MADE_KEPT + 10):
        obj = {"handle": "0.NA/88.118.8", "index": n, "permissions": "1"}
        assert rest_json.data_from_json({"format": "admin", "value": obj}) == (
            encode_admin_record(AdminRecord("0.NA/88.118.8", n, rest_json.admin_from_json(
                obj).permissions)))
        assert len(rest_json._admin_made) <= rest_json.ADMIN_MADE_KEPT
