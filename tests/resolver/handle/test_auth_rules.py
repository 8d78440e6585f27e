"""Challenge bookkeeping and the permission bits each write needs (no I/O)."""

from __future__ import annotations

from protocol.constants import (
    ADMIN_PERM_ADD_ADMIN,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_MODIFY_ADMIN,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_REMOVE_ADMIN,
    ADMIN_PERM_REMOVE_VALUE,
)
from protocol.values import HandleValue
from resolver.core.permissions import (
    bits_to_add,
    bits_to_modify,
    bits_to_remove,
    bits_to_replace,
)


def _v(index: int, type_: str = "URL", data: bytes = b"x", **kw: bool) -> HandleValue:
    return HandleValue(index=index, type=type_, data=data, **kw)


def test_permission_bits_per_operation() -> None:
    existing = [_v(1), _v(100, "HS_ADMIN"), _v(2, public_write=True)]
    assert bits_to_add([_v(3)]) == ADMIN_PERM_ADD_VALUE
    assert bits_to_add([_v(3), _v(101, "HS_ADMIN")]) == ADMIN_PERM_ADD_VALUE | ADMIN_PERM_ADD_ADMIN
    assert bits_to_remove(existing, [1]) == ADMIN_PERM_REMOVE_VALUE
    assert bits_to_remove(existing, [100]) == ADMIN_PERM_REMOVE_ADMIN
    assert bits_to_modify(existing, [_v(1, data=b"y")]) == ADMIN_PERM_MODIFY_VALUE
    assert bits_to_modify(existing, [_v(2, data=b"y")]) == 0  # public write
    assert bits_to_modify(existing, [_v(100, "HS_ADMIN", b"y")]) == ADMIN_PERM_MODIFY_ADMIN
    assert bits_to_modify(existing, [_v(100)]) == ADMIN_PERM_REMOVE_ADMIN | ADMIN_PERM_MODIFY_VALUE
    assert bits_to_modify(existing, [_v(1, "HS_ADMIN")]) == (
        ADMIN_PERM_MODIFY_VALUE | ADMIN_PERM_ADD_ADMIN
    )
    assert bits_to_replace(existing, [_v(1), _v(100, "HS_ADMIN"), _v(2, public_write=True)]) == 0
    assert bits_to_replace(existing, [_v(1), _v(100, "HS_ADMIN")]) == ADMIN_PERM_REMOVE_VALUE
