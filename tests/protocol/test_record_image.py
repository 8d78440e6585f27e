"""The record image (protocol/record_image.py): what it is made of, what it decodes to,
what it refuses, and the expiry it computes without decoding."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.record_image import IMAGE_FORMAT, RecordImage, make_image, wire_of
from protocol.value_codec import encode_values
from protocol.values import (
    TTL_TYPE_ABSOLUTE,
    TTL_TYPE_RELATIVE,
    HandleValue,
    ValueReference,
)
from resolver.core.cache import expiry

from .strategies import handle_values


def _value(index: int, **kw: object) -> HandleValue:
    fields: dict[str, object] = {"type": "URL",
                                 "data": b"https://example.org/" + bytes([index % 256])}
    fields.update(kw)
    return HandleValue(index, **fields)  # type: ignore[arg-type]


def _image(values: tuple[HandleValue, ...]) -> RecordImage:
    blob = make_image(values)
    assert blob is not None
    image = RecordImage.read(blob)
    assert image is not None
    return image


_RECORD = (
    _value(1, timestamp=1_700_000_000),
    _value(2, type="HS_ADMIN", data=b"\x00\x0f\x00\x00\x00\x05admin\x00\x00\x00\xc8",
           ttl=3600, admin_write=True, public_write=False),
    _value(3, type="EMAIL", references=(ValueReference("88.118/x", 7),
                                        ValueReference("中文/名", -1))),
    _value(4, type="HS_SECKEY", data=b"secret", public_read=False),
    _value(5, ttl_type=TTL_TYPE_ABSOLUTE, ttl=1_900_000_000),
)


def test_an_image_decodes_to_its_values_and_carries_their_wire_encoding() -> None:
    image = _image(_RECORD)
    assert image.wire == encode_values(_RECORD)  # what an answer with them encodes
    assert len(image) == 5 and image.withheld == 1
    assert tuple(image) == _RECORD and image == _RECORD and image == _RECORD
    assert image[2].references == _RECORD[2].references and image[-1] == _RECORD[-1]
    assert image[1:3] == _RECORD[1:3]
    assert hash(image) == hash(_RECORD)
    assert wire_of(image) == image.wire and wire_of(_RECORD) is None


def test_values_are_decoded_once_and_only_when_asked_for() -> None:
    image = _image(_RECORD)
    decoded = []

    class Counting(RecordImage):
        __slots__ = ()

        def decode(self) -> tuple[HandleValue, ...]:
            decoded.append(1)
            return super().decode()

    counting = Counting.read(make_image(_RECORD))
    assert isinstance(counting, Counting)
    assert len(counting) == 5 and counting.withheld == 1 and bool(counting)
    assert counting.expiry(0.0, 60.0) == expiry(_RECORD, 0.0, 60.0)  # no decode either
    assert decoded == []
    assert list(counting) == list(_RECORD) and tuple(counting) == _RECORD
    assert decoded == [1]
    assert image.values() is image.values()


def test_a_zero_timestamp_is_stored_as_the_stamp() -> None:
    stamped = _image((_value(1, timestamp=0), _value(2, timestamp=5)))
    blob = make_image((_value(1, timestamp=0), _value(2, timestamp=5)), stamp=99)
    assert blob is not None and RecordImage.read(blob) is not None
    assert [v.timestamp for v in RecordImage.read(blob) or ()] == [99, 5]
    assert [v.timestamp for v in stamped] == [0, 5]


@pytest.mark.parametrize("value", [
    _value(1, ttl=2**31),  # unsigned on the wire: would come back negative
    _value(1, timestamp=2**32),
    _value(1, ttl_type=7),  # a TTL kind the cache cannot compute an expiry for
    _value(1, references=(ValueReference("a/b", 2**31),)),
    _value(1, type="\udc80"),  # not UTF-8
    _value(1, references=(ValueReference("\udc80", 1),)),
])
def test_values_the_wire_cannot_carry_exactly_get_no_image(value: HandleValue) -> None:
    assert make_image((_value(2), value)) is None


@pytest.mark.parametrize("value", [
    _value(1, ttl=2**31), _value(1, type="\udc80"), _value(1, ttl_type=7)])
def test_a_value_the_wire_cannot_carry_gets_no_image_the_second_time_too(
        value: HandleValue) -> None:
    assert make_image((value,)) is None
    assert make_image((value,)) is None  # not remembered as a good head


def test_records_sharing_value_heads_get_their_own_images() -> None:
    first = (_value(1, type="URL", data=b"a"), _value(2, type="EMAIL", data=b"b"))
    second = (_value(1, type="URL", data=b"c"), _value(2, type="EMAIL", data=b"d"))
    for values in (first, second, first):
        blob = make_image(values)
        image = RecordImage.read(blob)
        assert image is not None and tuple(image) == values
        assert image.wire == encode_values(list(values))


def test_too_many_values_get_no_image() -> None:
    assert make_image(_value(i) for i in range(1, 2050)) is None
    assert make_image(_value(i) for i in range(1, 2049)) is not None


@pytest.mark.parametrize("blob", [
    None, b"", b"\x01", bytes([IMAGE_FORMAT + 1]) + bytes(17), bytes([0]) + bytes(17),
    bytes([IMAGE_FORMAT]) + bytes(13) + b"\0\0\0\1",  # values but no TTL in the head
])
def test_a_blob_of_another_format_is_no_image(blob: bytes | None) -> None:
    assert RecordImage.read(blob) is None


def test_an_empty_record_has_an_image_with_no_values() -> None:
    image = _image(())
    assert len(image) == 0 and not image and tuple(image) == ()
    assert image.expiry(100.0, 30.0) == 130.0 == expiry((), 100.0, 30.0)


def test_a_damaged_image_raises_protocol_error_when_decoded() -> None:
    blob = make_image(_RECORD)
    assert blob is not None
    image = RecordImage.read(blob[:-3])
    assert image is not None
    with pytest.raises(ProtocolError):
        tuple(image)


@settings(max_examples=300, deadline=None)
@given(st.lists(handle_values, max_size=6).map(
    lambda vs: tuple(sorted({v.index: v for v in vs}.values(), key=lambda v: v.index))),
    st.floats(0, 2e9))
def test_expiry_and_values_match_the_values(values: tuple[HandleValue, ...],
                                            now: float) -> None:
    blob = make_image(values)
    if blob is None:  # a field outside what the wire carries exactly, or another TTL kind
        assert any(v.ttl_type not in (TTL_TYPE_RELATIVE, TTL_TYPE_ABSOLUTE) for v in values)
        return
    image = RecordImage.read(blob)
    assert image is not None
    assert tuple(image) == values
    assert image.wire == encode_values(values)
    assert image.withheld == sum(not v.public_read for v in values)
    assert image.expiry(now, 45.0) == expiry(values, now, 45.0)


def test_the_head_is_what_the_module_says() -> None:
    blob = make_image((_value(1, ttl=50), _value(2, ttl_type=TTL_TYPE_ABSOLUTE, ttl=70),
                       _value(3, ttl=40, public_read=False)))
    assert blob is not None
    assert struct.unpack_from(">BBIii", blob) == (IMAGE_FORMAT, 3, 1, 40, 70)
    assert int.from_bytes(blob[14:18], "big") == 3


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 3), st.integers(0, 5), st.binary(max_size=120))
def test_any_bytes_behind_a_head_read_or_raise_protocol_error(
    flags: int, count: int, tail: bytes
) -> None:
    """Hostile or damaged images: reading one never fails, decoding one raises
    ProtocolError at worst (the fuzz suite feeds random bytes too)."""
    blob = struct.pack(">BBIii", IMAGE_FORMAT, flags, 0, 60, 90) + struct.pack(">I", count) + tail
    image = RecordImage.read(blob)
    if image is None:
        return
    assert image.expiry(0.0, 1.0) >= 0.0
    with contextlib.suppress(ProtocolError):
        assert len(tuple(image)) == count
