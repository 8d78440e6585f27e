"""F1 (issue 18): suspension and quota follow the owner of the longest registered prefix.

An enterprise admin gets no ADD_NA on its prefix handle unless the operator
grants sub-prefixes; when granted, the derived prefix handles and every handle
under them are the enterprise's: its suspension freezes them and its quota
counts them, over the Handle protocol and REST alike (both call the service).
"""

from __future__ import annotations

import pytest

from protocol.constants import RC_INSUFFICIENT_PERMISSIONS
from protocol.values import HandleValue
from registry.bootstrap import admin_value, onboard_enterprise, set_sub_prefixes
from registry.errors import EnterpriseSuspended, QuotaExceeded
from registry.store import HandleStore
from resolver.core.model import Caller, ServiceError
from resolver.core.service import ResolutionService
from resolver.core.suspension import SuspendedPrefixes

NODE = "88.118"
A = Caller("0.NA/88.118.7", 300)


def url(index: int, text: str) -> HandleValue:
    return HandleValue(index, "URL", text.encode())


async def _tenant(store: HandleStore, *, sub_prefixes: bool) -> ResolutionService:
    await store.create_prefix(NODE)
    info = await store.add_enterprise("A", "Tenant A")
    await onboard_enterprise(store, info, "88.118.7", node_prefix=NODE, site=None, actor="op",
                             sub_prefixes=sub_prefixes)
    return ResolutionService(store)


async def _refused(write: object) -> int:
    with pytest.raises(ServiceError) as refused:
        await write  # type: ignore[misc]
    return refused.value.response_code


async def test_enterprise_admin_gets_no_derived_prefixes_by_default(
    database: HandleStore,
) -> None:
    service = await _tenant(database, sub_prefixes=False)
    code = await _refused(service.create_handle("0.NA/88.118.7.1", [url(1, "x")], caller=A))
    assert code == RC_INSUFFICIENT_PERMISSIONS
    assert await database.get_handle("0.NA/88.118.7.1") is None
    await service.create_handle("88.118.7/own", [url(1, "x")], caller=A)  # its own: fine


async def test_suspension_and_quota_bind_derived_prefixes(database: HandleStore) -> None:
    service = await _tenant(database, sub_prefixes=True)
    await service.create_handle("0.NA/88.118.7.1", [admin_value(100, A.handle or "", 300)],
                                caller=A)
    await service.create_handle("88.118.7.1/one", [url(1, "x")], caller=A)
    # both belong to A: its quota counts them (the operator's prefix handle is not counted)
    await database.set_enterprise_quota("A", 2)
    code = await _refused(service.create_handle("88.118.7.1/two", [url(1, "x")], caller=A))
    assert code == RC_INSUFFICIENT_PERMISSIONS
    with pytest.raises(QuotaExceeded):
        await database.create_handle("88.118.7.1.5/deeper", [url(1, "x")], actor="op")
    await database.set_enterprise_quota("A", None)

    await database.set_enterprise_status("A", "suspended")
    for write in (
        service.modify_values("0.NA/88.118.7", [url(100, "y")], caller=A),
        service.add_values("0.NA/88.118.7.1", [url(2, "y")], caller=A),
        service.add_values("88.118.7.1/one", [url(2, "y")], caller=A),
        service.create_handle("88.118.7.1/three", [url(1, "x")], caller=A),
    ):
        assert await _refused(write) == RC_INSUFFICIENT_PERMISSIONS
    # the operator's writes are bound too (suspension lives in the store)
    with pytest.raises(EnterpriseSuspended):
        await database.create_handle("88.118.7.1/op", [url(1, "x")], actor="op")
    assert await database.get_handle("88.118.7.1/three") is None


async def test_a_registered_sub_prefix_belongs_to_its_own_owner(database: HandleStore) -> None:
    await _tenant(database, sub_prefixes=True)
    await database.create_handle("88.118.7.9/before", [url(1, "x")], actor="op")
    await database.add_enterprise("D", "Tenant D")
    await database.create_prefix("88.118.7.9", owner="D")
    await database.set_enterprise_status("A", "suspended")
    # 88.118.7.9 is D's now (longest registered prefix), A's suspension does not freeze it
    await database.add_values("88.118.7.9/before", [url(2, "y")], actor="op")
    await database.set_enterprise_status("D", "suspended")
    with pytest.raises(EnterpriseSuspended):
        await database.add_values("88.118.7.9/before", [url(3, "z")], actor="op")


async def test_refused_resolution_follows_the_owner_too(database: HandleStore) -> None:
    await _tenant(database, sub_prefixes=True)
    await database.add_enterprise("D", "Tenant D")
    await database.create_prefix("88.118.7.9", owner="D")
    await database.set_enterprise_status("A", "suspended")
    refused = SuspendedPrefixes()
    await refused.refresh(database)
    assert refused.refuses("88.118.7/x") and refused.refuses("88.118.7.1/x")
    assert not refused.refuses("88.118.7.9/x")  # D's, not A's
    assert not refused.refuses("88.118.8/x")


async def test_operator_grants_and_withdraws_sub_prefixes(database: HandleStore) -> None:
    service = await _tenant(database, sub_prefixes=False)
    await set_sub_prefixes(database, "A", "88.118.7", True, actor="op")
    await service.create_handle("0.NA/88.118.7.1", [admin_value(100, A.handle or "", 300)],
                                caller=A)
    await set_sub_prefixes(database, "A", "88.118.7", False, actor="op")
    code = await _refused(service.create_handle("0.NA/88.118.7.2", [url(1, "x")], caller=A))
    assert code == RC_INSUFFICIENT_PERMISSIONS
    # its other rights are untouched
    await service.create_handle("88.118.7/still-mine", [url(1, "x")], caller=A)
