"""Structured value data: decode by type, encode back, build whole values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.admin_record import AdminRecord
from protocol.errors import ProtocolError
from protocol.public_key import RSAKeyNumbers
from protocol.value_data import (
    Alias,
    PublicKeyData,
    SecretKey,
    ServiceHandle,
    SiteData,
    ValueData,
    ValueList,
    decode_data,
    encode_data,
    make_value,
)
from protocol.values import ValueReference

from .strategies import admin_records, key_numbers, refs, sites, text

structured = st.one_of(
    admin_records,
    st.builds(SiteData, sites, st.booleans()),
    st.builds(ValueList, st.lists(refs, max_size=3).map(tuple)),
    st.builds(ServiceHandle, text, st.booleans()),
    st.builds(Alias, text),
    st.builds(SecretKey, st.binary(max_size=20)),
    st.builds(PublicKeyData, key_numbers),
)


@given(structured)
def test_structured_roundtrip(obj: ValueData) -> None:
    type_name, data = encode_data(obj)
    assert decode_data(type_name, data) == obj


def test_types_and_values() -> None:
    assert encode_data(ServiceHandle("0.NA/88.118")) == ("HS_SERV", b"0.NA/88.118")
    assert encode_data(ServiceHandle("0.NA/88", True))[0] == "HS_SERV.PREFIX"
    assert encode_data(Alias("88.118/x")) == ("HS_ALIAS", b"88.118/x")
    assert decode_data("URL", b"https://x") is None
    v = make_value(300, SecretKey(b"k"))
    assert (v.type, v.data, v.public_read) == ("HS_SECKEY", b"k", False)
    admin = make_value(100, AdminRecord("0.NA/88.118", 200), ttl=3600)
    assert admin.type == "HS_ADMIN" and admin.ttl == 3600
    vl = make_value(2, ValueList((ValueReference("a/b", 1),)))
    assert decode_data(vl.type, vl.data) == ValueList((ValueReference("a/b", 1),))
    pk = make_value(1, PublicKeyData(RSAKeyNumbers(n=0xC3F1, e=3)))
    assert pk.type == "HS_PUBKEY"
    with pytest.raises(ProtocolError):
        decode_data("HS_ADMIN", b"\x00")
    with pytest.raises(ProtocolError):
        encode_data("nope")  # type: ignore[arg-type]
