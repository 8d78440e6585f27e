"""Which HS_ADMIN permission bits an operation needs, following the CNRI server.

``net.handle.server.HandleServer`` asks for a set of ``AdminRecord`` bits per
operation and accepts an administrator only if one HS_ADMIN value grants *all*
of them.  These functions compute that set (as a bit mask of
``protocol.constants.ADMIN_PERM_*``) from the values a request touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocol.constants import (
    ADMIN_PERM_ADD_ADMIN,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_MODIFY_ADMIN,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_REMOVE_ADMIN,
    ADMIN_PERM_REMOVE_VALUE,
    TYPE_HS_ADMIN,
)
from protocol.values import HandleValue


def is_admin_value(value: HandleValue) -> bool:
    """True for an HS_ADMIN value."""
    return value.type == TYPE_HS_ADMIN


def _change_bits(old: HandleValue, new: HandleValue) -> int:
    """Bits to turn ``old`` into ``new`` (HandleServer.doModifyValue)."""
    old_admin, new_admin = is_admin_value(old), is_admin_value(new)
    if old_admin and new_admin:
        return ADMIN_PERM_MODIFY_ADMIN
    if old_admin:
        return ADMIN_PERM_REMOVE_ADMIN | ADMIN_PERM_MODIFY_VALUE
    if new_admin:
        return ADMIN_PERM_MODIFY_VALUE | ADMIN_PERM_ADD_ADMIN
    return 0 if old.public_write else ADMIN_PERM_MODIFY_VALUE


def _add_bits(new: HandleValue) -> int:
    return ADMIN_PERM_ADD_ADMIN if is_admin_value(new) else ADMIN_PERM_ADD_VALUE


def _remove_bits(old: HandleValue) -> int:
    return ADMIN_PERM_REMOVE_ADMIN if is_admin_value(old) else ADMIN_PERM_REMOVE_VALUE


def _same_ignoring_timestamp(a: HandleValue, b: HandleValue) -> bool:
    return (a.type, a.data, a.ttl_type, a.ttl, a.permissions, a.references) == (
        b.type,
        b.data,
        b.ttl_type,
        b.ttl,
        b.permissions,
        b.references,
    )


def bits_to_add(new: Sequence[HandleValue]) -> int:
    """Add values (indexes already checked to be new)."""
    bits = 0
    for v in new:
        bits |= _add_bits(v)
    return bits


def bits_to_remove(existing: Sequence[HandleValue], indexes: Iterable[int]) -> int:
    """Remove the values at ``indexes`` (all present)."""
    by_index = {v.index: v for v in existing}
    bits = 0
    for i in indexes:
        bits |= _remove_bits(by_index[i])
    return bits


def bits_to_modify(existing: Sequence[HandleValue], new: Sequence[HandleValue]) -> int:
    """Replace the values with the indexes of ``new`` (all present)."""
    by_index = {v.index: v for v in existing}
    bits = 0
    for v in new:
        bits |= _change_bits(by_index[v.index], v)
    return bits


def bits_to_replace(existing: Sequence[HandleValue], new: Sequence[HandleValue]) -> int:
    """Overwrite a whole record (create with overwrite): add, change and remove bits."""
    old = {v.index: v for v in existing}
    bits = 0
    for v in new:
        before = old.pop(v.index, None)
        if before is None:
            bits |= _add_bits(v)
        elif not _same_ignoring_timestamp(before, v):
            bits |= _change_bits(before, v)
    for gone in old.values():
        bits |= _remove_bits(gone)
    return bits
