"""Console writes of handle records, stored as the servers store theirs.

Like :meth:`resolver.core.service.ResolutionService._write`: the store writes
the record in one audited transaction under the console user's name, holding
it to the node's write rules (:mod:`registry.write_rules`: signatures verified
or made, value limits), and every serving process's cache forgets the handle
before the page answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.values import HandleValue
from registry.tiers import keep_tiers
from resolver.core.service import ResolutionService


async def forget(service: ResolutionService, handle: str) -> None:
    """Every serving process's cache forgets ``handle`` (after a write)."""
    if service.answers is not None:
        await service.answers.invalidate([handle])


async def put_record(
    service: ResolutionService, handle: str, values: Sequence[HandleValue], *, actor: str,
    expected_version: int | None = None, create: bool,
) -> None:
    """Create ``handle`` (``create``) or replace its values at ``expected_version``;
    a value rewritten at the same index keeps its tier (:func:`registry.tiers.keep_tiers`)."""
    if not create and (current := await service.store.get_handle(handle)) is not None:
        values = keep_tiers(current.values, values)
    if create:
        await service.store.create_handle(handle, values, actor=actor)
    else:
        await service.store.replace_handle(handle, values, actor=actor,
                                           expected_version=expected_version)
    await forget(service, handle)


async def delete_record(
    service: ResolutionService, handle: str, *, actor: str, expected_version: int | None
) -> None:
    """Delete ``handle`` (refused if it changed since ``expected_version``)."""
    await service.store.delete_handle(handle, actor=actor, expected_version=expected_version)
    await forget(service, handle)
