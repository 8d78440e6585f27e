"""Partner grants between enterprises, and whose view of a record a reader gets.

An enterprise (the owner) grants another enterprise (the partner) the right to
read the owner's partners-only values (:mod:`registry.tiers`).  Grants are
rows of ``partner_grants``; granting and revoking are audited like the other
directory changes.  They are read per authenticated request (never cached), so
a revoked grant counts at once; anonymous readers never reach this module.

:meth:`PartnersMixin.relation` answers the one question the resolution
service asks: is the reader's enterprise the record's owner, a partner of it,
or neither.  A reader is known by an enterprise code (a console user) or by
the handle it authenticated as: that handle counts for the enterprise owning
it (``0.NA/88.118.9``, the admin handle ``idnode enterprise credentials``
issues, belongs to the enterprise holding ``88.118.9``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import AlreadyExists, InvalidArgument, NotFound
from registry.links import PUBLIC_LINKS, LinkView
from registry.models import Enterprise, Handle, PartnerGrant, table_of, utcnow
from registry.names import name_key
from registry.records import PartnerInfo

_G = table_of(PartnerGrant)
_H = table_of(Handle)
_E = table_of(Enterprise)

OWNER: Final = "owner"
PARTNER: Final = "partner"


class PartnersMixin(StoreBase):
    """Grants of partner access, and a reader's relation to a record's owner."""

    async def grant_partner(self, owner: str, partner: str, *, actor: str = "admin") -> None:
        """Let ``partner`` read ``owner``'s partners-only values."""
        if owner == partner:
            raise InvalidArgument(f"enterprise {owner} cannot be its own partner")
        audit = AuditEvent(actor, "partner.grant", None,
                           detail={"enterprise": owner, "partner": partner})
        try:
            async with self._write() as conn:
                await conn.execute(insert(_G), {"owner": owner, "partner": partner,
                                                "created": utcnow()})
                await append_audit(conn, [audit])
        except IntegrityError as exc:
            raise AlreadyExists(
                f"{partner} is already a partner of {owner}, or one of them is not registered"
            ) from exc

    async def revoke_partner(self, owner: str, partner: str, *, actor: str = "admin") -> None:
        """End ``partner``'s access to ``owner``'s partners-only values."""
        audit = AuditEvent(actor, "partner.revoke", None,
                           detail={"enterprise": owner, "partner": partner})
        async with self._write() as conn:
            result = await conn.execute(
                delete(_G).where(_G.c.owner == owner, _G.c.partner == partner))
            if result.rowcount != 1:
                raise NotFound(f"{partner} is not a partner of {owner}")
            await append_audit(conn, [audit])

    async def list_partners(self, owner: str) -> list[PartnerInfo]:
        """The enterprises ``owner`` granted partner access, by code, with their names."""
        query = (select(_G.c.partner, _E.c.name, _G.c.created)
                 .join(_E, _E.c.code == _G.c.partner)
                 .where(_G.c.owner == owner).order_by(_G.c.partner))
        async with self._read() as conn:
            return [PartnerInfo(*row) for row in await conn.execute(query)]

    async def relation(
        self, handle: str, *, enterprise: str | None = None, identity: str | None = None
    ) -> str | None:
        """:data:`OWNER` when the reader's enterprise owns ``handle``, :data:`PARTNER`
        when the owner granted it partner access, else None.

        The reader's enterprise is ``enterprise`` if given, else the one owning
        the handle ``identity``.  Two indexed queries at most."""
        keys = [name_key(handle)] + ([name_key(identity)] if identity and not enterprise else [])
        async with self._read() as conn:
            rows = dict((await conn.execute(
                select(_H.c.name_key, _H.c.enterprise).where(_H.c.name_key.in_(keys))
            )).all())
            owner = rows.get(keys[0])
            reader = enterprise if enterprise else rows.get(keys[-1]) if len(keys) > 1 else None
            if owner is None or reader is None:
                return None
            if owner == reader:
                return OWNER
            granted = (await conn.execute(
                select(_G.c.partner).where(_G.c.owner == owner, _G.c.partner == reader)
            )).first()
        return PARTNER if granted is not None else None

    async def link_view(
        self, *, enterprise: str | None = None, identity: str | None = None
    ) -> LinkView:
        """The where-used links a reader sees (:class:`registry.links.LinkView`): its
        enterprise's (``enterprise``, else the one owning the handle ``identity``) and
        the partners-only ones of the enterprises that granted it access."""
        async with self._read() as conn:
            reader = enterprise
            if reader is None and identity:
                reader = (await conn.execute(
                    select(_H.c.enterprise).where(_H.c.name_key == name_key(identity))
                )).scalar()
            if reader is None:
                return PUBLIC_LINKS
            owners = (await conn.execute(select(_G.c.owner).where(_G.c.partner == reader))
                      ).scalars()
            return LinkView(reader, frozenset(owners))
