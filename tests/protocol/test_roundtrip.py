"""Property tests: everything the codec encodes decodes back to the same thing."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.envelope import Envelope, decode_envelope, encode_envelope
from protocol.framing import decode_packet, encode_tcp
from protocol.message import Message, decode_message, encode_header_body, encode_message
from protocol.public_key import KeyNumbers, decode_key_numbers, encode_key_numbers
from protocol.references import (
    decode_alias,
    decode_service_handle,
    decode_vlist,
    encode_alias,
    encode_service_handle,
    encode_vlist,
)
from protocol.site_info import SiteInfo, decode_site_info, encode_site_info
from protocol.value_codec import (
    decode_value,
    decode_values,
    encode_value,
    encode_values,
)
from protocol.values import HandleValue, ValueReference

from .strategies import (
    admin_records,
    handle_values,
    int32,
    key_numbers,
    messages,
    octet,
    refs,
    sites,
    text,
    value_tuples,
)


@given(handle_values)
def test_value_roundtrip(value: HandleValue) -> None:
    raw = encode_value(value)
    assert decode_value(raw) == value


#: values whose 32-bit fields may also be given unsigned (as the codec takes them)
_unsigned = st.integers(-(2**31), 2**32 - 1)
_any_values = st.lists(
    st.builds(HandleValue, index=_unsigned, type=text, data=st.binary(max_size=40),
              ttl_type=octet, ttl=_unsigned, timestamp=_unsigned, admin_read=st.booleans(),
              admin_write=st.booleans(), public_read=st.booleans(), public_write=st.booleans(),
              references=st.lists(refs, max_size=2).map(tuple)),
    max_size=6)


@given(_any_values)
def test_a_value_list_is_its_count_then_each_value_as_encode_value_gives_it(
    values: list[HandleValue],
) -> None:
    """encode_values joins the usual values its own way: the same bytes as one by one,
    for data given as bytearray or memoryview too."""
    expected = len(values).to_bytes(4, "big") + b"".join(encode_value(v) for v in values)
    assert encode_values(values) == expected
    buffers = [dataclasses.replace(v, data=bytearray(v.data) if i % 2 else memoryview(v.data))
               for i, v in enumerate(values)]
    assert encode_values(buffers) == expected


@given(value_tuples)
def test_value_list_roundtrip(values: tuple[HandleValue, ...]) -> None:
    assert decode_values(encode_values(values)) == values


@given(admin_records)
def test_admin_roundtrip(rec: AdminRecord) -> None:
    assert decode_admin_record(encode_admin_record(rec)) == rec


@given(sites)
def test_site_roundtrip(site: SiteInfo) -> None:
    assert decode_site_info(encode_site_info(site)) == site


@given(st.lists(refs, max_size=5).map(tuple))
def test_vlist_roundtrip(items: tuple[ValueReference, ...]) -> None:
    assert decode_vlist(encode_vlist(items)) == items


@given(text)
def test_handle_reference_roundtrip(handle: str) -> None:
    assert decode_service_handle(encode_service_handle(handle)) == handle
    assert decode_alias(encode_alias(handle)) == handle


@given(key_numbers)
def test_key_numbers_roundtrip(numbers: KeyNumbers) -> None:
    assert decode_key_numbers(encode_key_numbers(numbers)) == numbers


@given(
    st.builds(
        Envelope,
        message_length=st.integers(0, 4 * 1024 * 1024),
        request_id=int32,
        session_id=int32,
        sequence_number=int32,
        major_version=octet,
        minor_version=octet,
        suggest_major_version=st.integers(1, 3),
        suggest_minor_version=octet,
        compressed=st.booleans(),
        encrypted=st.booleans(),
        truncated=st.booleans(),
    )
)
def test_envelope_roundtrip(env: Envelope) -> None:
    assert decode_envelope(encode_envelope(env)) == env


@settings(max_examples=300)
@given(messages())
def test_message_roundtrip(msg: Message) -> None:
    raw = encode_message(msg)
    env = msg.envelope(len(raw))
    back = decode_message(env, raw)
    assert back == msg
    assert back.encoded == encode_header_body(msg)
    assert encode_message(back) == raw
    assert decode_packet(encode_tcp(msg)) == msg
