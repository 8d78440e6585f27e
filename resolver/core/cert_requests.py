"""Who may queue a certificate request (``POST /api/cert-requests``) and read its state.

An authenticated identity queues a request (:mod:`registry.trust.requests`) only
for a subject under a prefix it administers: an HS_ADMIN of the subject's
prefix handle (``0.NA/88.118.8`` for ``300:0.NA/88.118.8`` or
``300:88.118.8/X``) must grant it add-value rights, as for writing the
certificate there itself.  A tenant so never asks for a certificate beyond its
own prefix.  The request is checked (signed by the key it names, not expired,
bounded) before the authorisation is even looked up.
"""

from __future__ import annotations

from protocol.constants import (
    ADMIN_PERM_ADD_VALUE,
    NA_HANDLE_PREFIX,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_INVALID_VALUE,
)
from registry.cert_requests import CertRequestInfo
from registry.names import name_key
from registry.trust.requests import RequestError, check_request
from resolver.core.model import Caller, ServiceError
from resolver.core.service import ResolutionService


def prefix_handle_of(handle: str) -> str:
    """The ``0.NA/`` handle of the prefix ``handle`` is under (itself for a prefix handle)."""
    if name_key(handle).startswith(name_key(NA_HANDLE_PREFIX)):
        return handle
    return NA_HANDLE_PREFIX + handle.partition("/")[0]


async def submit_cert_request(
    service: ResolutionService, text: str, caller: Caller, now: int
) -> CertRequestInfo:
    """Queue the request ``text`` for review on behalf of ``caller``."""
    if caller.handle is None:
        raise ServiceError(RC_AUTHENTICATION_NEEDED, "authentication needed")
    try:
        subject, _key = check_request(text.encode(), now)
    except (RequestError, UnicodeError) as exc:
        raise ServiceError(RC_INVALID_VALUE, f"certificate request: {exc}") from None
    await service.authorize(caller, prefix_handle_of(subject.handle), ADMIN_PERM_ADD_VALUE)
    return await service.store.submit_cert_request(
        text, actor=f"{caller.index}:{caller.handle}", now=now)


async def cert_request_status(
    service: ResolutionService, request_id: int, caller: Caller
) -> CertRequestInfo:
    """Request ``request_id`` with its decision, for an admin of its subject's prefix; one
    the caller may not see is answered as missing (ids are not probed)."""
    if caller.handle is None:
        raise ServiceError(RC_AUTHENTICATION_NEEDED, "authentication needed")
    missing = ServiceError(RC_HANDLE_NOT_FOUND, f"no certificate request {request_id}")
    info = await service.store.get_cert_request(request_id)
    if info is None:
        raise missing
    handle = info.subject.partition(":")[2] or info.subject
    try:
        await service.authorize(caller, prefix_handle_of(handle), ADMIN_PERM_ADD_VALUE)
    except ServiceError:
        raise missing from None
    return info
