"""HS_ADMIN data decoded once by its bytes (decode_admin_record's memo): the same
records and errors as decoding each time, in bounded memory."""

from __future__ import annotations

import pytest

from protocol import admin_record
from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.constants import ADMIN_PERM_ADD_HANDLE
from protocol.errors import ProtocolError

RECORDS = [
    AdminRecord("0.NA/88.118.8", 300),
    AdminRecord("88.118.8/admins", 200, ADMIN_PERM_ADD_HANDLE),
    AdminRecord("0.NA/88", 301, ADMIN_PERM_ADD_HANDLE, legacy_byte_length=True),
]


@pytest.mark.parametrize("record", RECORDS)
def test_data_seen_again_decodes_to_the_same_record(record: AdminRecord) -> None:
    data = encode_admin_record(record)
    first = decode_admin_record(data)
    assert first == record
    assert decode_admin_record(bytes(data)) is first  # the memo's, for equal bytes
    assert decode_admin_record(bytearray(data)) == record  # not hashable: decoded


def test_bad_data_fails_every_time() -> None:
    bad = encode_admin_record(RECORDS[0]) + b"\1"
    for _ in range(2):
        with pytest.raises(ProtocolError, match="after admin record"):
            decode_admin_record(bad)
    assert bad not in admin_record._decoded


def test_the_memo_is_bounded() -> None:
    for n in range(admin_record.DECODED_KEPT + 10):
        data = encode_admin_record(AdminRecord("0.NA/88.118.8", n + 1))
        assert decode_admin_record(data).admin_index == n + 1
        assert len(admin_record._decoded) <= admin_record.DECODED_KEPT
