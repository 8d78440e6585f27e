"""Approving an enterprise application: the enterprise, its prefix and its first admin account.

Approval does what ``idnode enterprise add`` does (the same
:func:`registry.bootstrap.onboard_enterprise`: hosted prefix, prefix handle
``0.NA/<prefix>`` with HS_SITE and HS_ADMIN), then creates the console account
the applicant chose (its password hash was taken with the application) and
marks the application approved.  Everything is checked before anything is
written (a taken prefix, enterprise code or user name refuses the approval
with the reason) and the writes are one transaction.  The enterprise code
is its unified social credit code.
"""

from __future__ import annotations

from protocol.values import HandleValue
from registry.applications import ApplicationInfo
from registry.bootstrap import check_enterprise_prefix, next_enterprise_prefix, onboard_enterprise
from registry.errors import AlreadyExists, InvalidArgument
from registry.store import HandleStore


async def approve_application(
    store: HandleStore,
    application: ApplicationInfo,
    *,
    node_prefix: str,
    site: HandleValue | None,
    actor: str,
    reason: str = "",
) -> ApplicationInfo:
    """Create the enterprise, prefix and admin account of ``application``; mark it approved."""
    form = application.form
    if application.state != "pending":
        raise InvalidArgument(f"application {application.id} is already {application.state}")
    prefix = form.requested_prefix or await next_enterprise_prefix(store, node_prefix)
    check_enterprise_prefix(prefix, node_prefix)
    if await store.get_prefix(prefix) is not None:
        raise AlreadyExists(f"prefix {prefix} is already registered")
    if await store.get_enterprise(form.credit_code) is not None:
        raise AlreadyExists(f"enterprise {form.credit_code} is already registered")
    if await store.get_user(form.admin_username) is not None:
        raise AlreadyExists(f"user {form.admin_username} already exists")
    async with store.transaction():  # as `enterprise add`: a failure leaves nothing
        info = await store.add_enterprise(form.credit_code, form.name, industry=form.industry,
                                          actor=actor)
        await onboard_enterprise(store, info, prefix, node_prefix=node_prefix, site=site,
                                 actor=actor)
        await store.add_user(form.admin_username, form.admin_password_hash, "enterprise_admin",
                             enterprise=info.code, actor=actor)
        return await store.decide_application(application.id, "approved", actor=actor,
                                              reason=reason or prefix, enterprise=info.code)
