"""The write rules the store applies inside every write, whoever the writer is."""

from __future__ import annotations

import pytest

from protocol.constants import MAX_HANDLE_VALUES, RC_INVALID_VALUE
from protocol.values import HandleValue, ValueReference
from registry.errors import InvalidValue
from registry.store import HandleStore
from registry.write_rules import WriteRules
from resolver.core.model import Caller, ServiceError
from resolver.core.service import ResolutionService

TV = "88.118.8/TV-0001"
TOO_MANY = 2100  # more than MAX_HANDLE_VALUES: no Handle client could decode the record


def notes(count: int, start: int = 1) -> list[HandleValue]:
    return [HandleValue(i, "NOTE", b"n") for i in range(start, start + count)]


async def test_a_record_no_client_can_decode_is_refused_by_the_store(
    database: HandleStore,
) -> None:
    assert TOO_MANY > MAX_HANDLE_VALUES
    with pytest.raises(InvalidValue, match=f"{TV}: {TOO_MANY} values, more than the"):
        await database.create_handle(TV, notes(TOO_MANY), actor="test")
    with pytest.raises(InvalidValue):
        await database.replace_handle(TV, notes(TOO_MANY), actor="test")
    await database.create_handle(TV, notes(MAX_HANDLE_VALUES - 1), actor="test")
    with pytest.raises(InvalidValue):  # the after-record counts, not the values given
        await database.add_values(TV, notes(2, start=MAX_HANDLE_VALUES), actor="test")
    with pytest.raises(InvalidValue):
        await database.upsert_values(TV, notes(2, start=MAX_HANDLE_VALUES), actor="test")
    record = await database.get_handle(TV)
    assert record is not None and len(record.values) == MAX_HANDLE_VALUES - 1
    result = await database.bulk_put(
        [("88.118.8/BIG", notes(TOO_MANY)), ("88.118.8/SMALL", notes(1))], actor="test"
    )
    assert (result.inserted, [r.name for r in result.rejected]) == (1, ["88.118.8/BIG"])
    assert result.rejected[0].response_code == RC_INVALID_VALUE


async def test_the_service_gets_the_store_refusal(database: HandleStore) -> None:
    database.rules = WriteRules(max_values=3)
    service = ResolutionService(database, server_admins=[("0.NA/88.118.8", 300)])
    caller = Caller("0.NA/88.118.8", 300)
    with pytest.raises(ServiceError) as refused:
        await service.create_handle(TV, notes(4), caller=caller)
    assert refused.value.response_code == RC_INVALID_VALUE
    await service.create_handle(TV, notes(3), caller=caller)
    with pytest.raises(ServiceError):
        await service.put_values(TV, notes(1, start=4), caller=caller, overwrite=True)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"], indirect=True)
async def test_a_nul_in_an_imported_type_rejects_that_row_only(database: HandleStore) -> None:
    bad = [HandleValue(1, "UR\0L", b"https://example.org")]
    bad_ref = [HandleValue(1, "HS_VLIST", b"", references=(ValueReference("0.NA/\0", 300),))]
    result = await database.bulk_put(
        [("88.118.8/A", notes(1)), ("88.118.8/NUL", bad), ("88.118.8/B", notes(1))],
        actor="import",
    )
    assert result.inserted == 2
    assert [(r.name, r.reason) for r in result.rejected] == [
        ("88.118.8/NUL", "value 1: 'UR\\x00L' contains a NUL character")
    ]
    assert await database.get_handle("88.118.8/A") is not None
    assert await database.get_handle("88.118.8/B") is not None
    with pytest.raises(InvalidValue, match="NUL"):
        await database.create_handle("88.118.8/C", bad_ref, actor="test")
