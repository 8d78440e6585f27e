"""Administrators of records: the HS_ADMIN values the registry writes, and who a new
handle's administrator is when its writer names none.

CNRI conventions: a prefix handle's HS_ADMIN sits at index :data:`ADMIN_INDEX`
and the enterprise's key (HS_SECKEY or HS_PUBKEY, what ``idnode enterprise
credentials`` issues) at :data:`CREDENTIAL_INDEX` of ``0.NA/<prefix>``; that
value is the enterprise's admin identity.

A handle created under an enterprise's prefix without any HS_ADMIN value
would be administered by nobody but the node (its owner could replace it
whole through the prefix's add-handle right, but never delete it or change
one value).  :func:`with_default_admin` gives it one, naming the owning
prefix's admin ``0.NA/<prefix>``:300 with every right but adding derived
prefixes, at index 100 (or the first free index above).  The store applies
it to every create (:mod:`registry.store`, :mod:`registry.bulk`) before the
signing policy, so a record the node signs on an enterprise's behalf covers
it; a record that arrives signed already is stored as its signer signed it
(an added value would break that signature).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.constants import (
    ADMIN_PERM_ADD_NA,
    ADMIN_PERM_ALL,
    TYPE_HS_ADMIN,
    TYPE_HS_SIGNATURE,
)
from protocol.values import HandleValue
from registry.names import name_key, prefix_handle

ADMIN_INDEX = 100
CREDENTIAL_INDEX = 300

#: what an enterprise admin may do on its prefix handle unless granted sub-prefixes
ENTERPRISE_ADMIN_PERMS = ADMIN_PERM_ALL & ~ADMIN_PERM_ADD_NA


def admin_value(
    index: int, admin_handle: str, admin_index: int, perms: int = ADMIN_PERM_ALL
) -> HandleValue:
    """An HS_ADMIN value granting ``perms`` (default: all) to ``admin_handle``:``admin_index``."""
    data = encode_admin_record(AdminRecord(admin_handle, admin_index, perms))
    return HandleValue(index=index, type=TYPE_HS_ADMIN, data=data)


def enterprise_admin(prefix: str) -> tuple[str, int]:
    """The admin identity of an enterprise prefix: ``(0.NA/<prefix>, 300)``."""
    return prefix_handle(prefix), CREDENTIAL_INDEX


def with_default_admin(
    values: Mapping[int, HandleValue], prefix: str
) -> dict[int, HandleValue]:
    """``values`` with an HS_ADMIN for the admin of enterprise ``prefix`` when none is
    there; a record that comes signed (HS_SIGNATURE) is kept as its signer made it."""
    for v in values.values():  # a loop, not any(generator): once a record of an import
        if len(v.type) in _MARK_LENGTHS and name_key(v.type) in _MARKS:
            return dict(values)
    index = ADMIN_INDEX
    while index in values:
        index += 1
    return {**values, index: _default_admin(index, prefix)}


_MARKS = (TYPE_HS_ADMIN, TYPE_HS_SIGNATURE)
_MARK_LENGTHS = frozenset(map(len, _MARKS))


@lru_cache(maxsize=1024)
def _default_admin(index: int, prefix: str) -> HandleValue:
    """The default HS_ADMIN of enterprise ``prefix`` at ``index`` (values are immutable:
    the records of a bulk write share one)."""
    return admin_value(index, *enterprise_admin(prefix), ENTERPRISE_ADMIN_PERMS)
