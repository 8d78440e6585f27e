"""Console writes of handle records, stored as the servers store theirs.

Like :meth:`resolver.core.service.ResolutionService._write`: the node's
signing policy prepares the record (verifies or signs it), the store writes
it in one audited transaction under the console user's name, and every
serving process's cache forgets the handle before the page answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.values import HandleValue
from resolver.core.service import ResolutionService


async def _forget(service: ResolutionService, handle: str) -> None:
    if service.answers is not None:
        await service.answers.invalidate([handle])


async def put_record(
    service: ResolutionService, handle: str, values: Sequence[HandleValue], *, actor: str,
    expected_version: int | None = None, create: bool,
) -> None:
    """Create ``handle`` (``create``) or replace its values at ``expected_version``."""
    signed = await service.signing.prepare(handle, list(values))
    stored = signed if signed is not None else values
    if create:
        await service.store.create_handle(handle, stored, actor=actor)
    else:
        await service.store.replace_handle(handle, stored, actor=actor,
                                           expected_version=expected_version)
    await _forget(service, handle)


async def delete_record(
    service: ResolutionService, handle: str, *, actor: str, expected_version: int | None
) -> None:
    """Delete ``handle`` (refused if it changed since ``expected_version``)."""
    await service.store.delete_handle(handle, actor=actor, expected_version=expected_version)
    await _forget(service, handle)
