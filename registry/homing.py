"""Homed prefixes in the registry: what CNRI's ``HandleStorage.setHaveNA`` / ``haveNA`` keep.

A homed prefix is a registered *hosted* prefix; homing one changes no handle
(not even its prefix handle), unhoming forgets the registration and keeps its
handles, as a CNRI server keeps them in storage.  Both are idempotent.  Who
may do it is decided by the callers (:mod:`resolver.core.homing` for the Handle
protocol and REST, the ``idnode prefix home|unhome`` commands for the operator).
"""

from __future__ import annotations

import contextlib

from protocol.constants import NA_HANDLE_PREFIX
from registry.errors import NotFound
from registry.store import HandleStore


def prefix_of(handle: str) -> str:
    """``88.118.9`` for ``0.NA/88.118.9`` or ``88.118.9`` (``Util.convertSlashlessHandle…``);
    ValueError for any other handle."""
    if "/" not in handle:
        handle = NA_HANDLE_PREFIX + handle
    if not handle.upper().startswith(NA_HANDLE_PREFIX.upper()) or handle == NA_HANDLE_PREFIX:
        raise ValueError(f"{handle} is not a prefix handle")
    return handle[len(NA_HANDLE_PREFIX):]


async def home(store: HandleStore, prefix: str, *, actor: str) -> None:
    """Serve ``prefix`` (a hosted registration; a delegated one becomes hosted)."""
    info = await store.get_prefix(prefix)
    if info is None:
        await store.create_prefix(prefix, kind="hosted", actor=actor)
    elif info.kind != "hosted":
        await store.set_prefix_kind(prefix, "hosted", actor=actor)


async def unhome(store: HandleStore, prefix: str, *, actor: str) -> None:
    """Stop serving ``prefix``; its handles stay."""
    with contextlib.suppress(NotFound):
        await store.delete_prefix(prefix, actor=actor)


async def homed(store: HandleStore) -> list[str]:
    """The ``0.NA/`` handles of the homed prefixes, by name."""
    return [NA_HANDLE_PREFIX + p.name for p in await store.list_prefixes(kind="hosted")]
