"""Homing prefixes over the Handle protocol and REST (CNRI ``OC_HOME_NA``,
``OC_UNHOME_NA``, ``OC_LIST_HOMED_NAS``; ``hdl-home-na``, ``/api/prefixes``).

What homing means is :mod:`registry.homing`; this module says who may: as
``HandleServer.doHomeNA``, only the node's server admins (or members of a group
they list), and the node's own prefixes (those of its server admins' ``0.NA/``
handles) cannot be unhomed.
"""

from __future__ import annotations

from protocol.constants import (
    NA_HANDLE_PREFIX,
    RC_AUTHENTICATION_NEEDED,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_HANDLE,
    RC_OPERATION_NOT_SUPPORTED,
)
from registry import homing
from registry.names import name_key
from resolver.core.model import Caller, ServiceError
from resolver.core.service import ResolutionService


async def _checked(service: ResolutionService, handle: str, caller: Caller, what: str) -> str:
    try:
        prefix = homing.prefix_of(handle)
    except ValueError as exc:
        raise ServiceError(RC_INVALID_HANDLE, str(exc)) from None
    _require_identity(caller)
    if not await service.is_server_admin(caller):
        raise ServiceError(RC_INSUFFICIENT_PERMISSIONS, f"only a server admin may {what} {prefix}")
    return prefix


def _require_identity(caller: Caller) -> None:
    if caller.handle is None:
        raise ServiceError(RC_AUTHENTICATION_NEEDED, "authentication needed")


def _actor(caller: Caller) -> str:
    return f"{caller.index}:{caller.handle}"


async def home_prefix(service: ResolutionService, handle: str, caller: Caller) -> str:
    """Serve the prefix named by ``handle`` from now on; returns the prefix."""
    prefix = await _checked(service, handle, caller, "home")
    await homing.home(service.store, prefix, actor=_actor(caller))
    return prefix


async def unhome_prefix(service: ResolutionService, handle: str, caller: Caller) -> str:
    """Stop serving the prefix named by ``handle`` (its handles stay); returns the prefix."""
    prefix = await _checked(service, handle, caller, "unhome")
    own = {name_key(admin) for admin, _ in service.server_admins}  # 0.NA/<node prefix>
    if name_key(NA_HANDLE_PREFIX + prefix) in own:
        raise ServiceError(RC_OPERATION_NOT_SUPPORTED, f"{prefix} is this node's own prefix")
    await homing.unhome(service.store, prefix, actor=_actor(caller))
    return prefix


async def homed_prefixes(service: ResolutionService, caller: Caller) -> list[str]:
    """``0.NA/`` handles of the prefixes this node serves (``OC_LIST_HOMED_NAS``)."""
    _require_identity(caller)
    if not await service.is_server_admin(caller):
        raise ServiceError(RC_INSUFFICIENT_PERMISSIONS, "only a server admin may list prefixes")
    return await homing.homed(service.store)
