"""The resolution service: the one object every front end asks.

The Handle TCP/UDP server, the REST API, the DNS bridge and the CLI all turn
their requests into calls on :class:`ResolutionService`, so every front end
answers the same question the same way: resolution with type/index filters and
read-permission filtering, administrative writes authorised by HS_ADMIN values
(following HS_VLIST admin groups and the per-operation permission bits exactly
like the CNRI server), and verification of the credentials an administrator
proves its identity with (HS_SECKEY, HS_PUBKEY).  The service authorises a
write; the store runs it in one transaction under the registry's write rules
(:mod:`registry.write_rules`: value limits, signatures verified, records signed
on an enterprise's behalf).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from protocol import auth
from protocol.admin_record import decode_admin_record
from protocol.auth import MAX_PBKDF2_ITERATIONS
from protocol.constants import (
    ADMIN_PERM_ADD_HANDLE,
    ADMIN_PERM_ADD_NA,
    ADMIN_PERM_DELETE_HANDLE,
    ADMIN_PERM_LIST_HANDLES,
    ADMIN_PERM_READ_VALUE,
    NA_HANDLE_PREFIX,
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_ALREADY_EXISTS,
    RC_HANDLE_NOT_FOUND,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_HANDLE,
    RC_INVALID_VALUE,
    RC_SERVICE_REFERRAL,
    RC_SESSION_TIMEOUT,
    RC_SUCCESS,
    RC_VALUE_ALREADY_EXISTS,
    RC_VALUES_NOT_FOUND,
    ROOT_HANDLE,
    TYPE_HS_ADMIN,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import decode_public_key
from protocol.record_image import RecordImage
from protocol.references import decode_secret_key, decode_vlist
from protocol.values import HandleValue
from registry.errors import StoreError
from registry.filters import select_values
from registry.links import PUBLIC_LINKS, LinkView
from registry.names import name_key, split_handle, unstorable
from registry.partners import OWNER as RELATION_OWNER
from registry.store import ReadWith
from registry.tiers import OWNER, PARTNERS, PUBLIC, partner_indexes, tier_of
from registry.valuerows import check_values
from resolver.core.cache import Answer, Kind
from resolver.core.crypto_pool import CryptoBusy, CryptoPool
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.model import ANONYMOUS, Answers, Caller, Resolution, ServiceError
from resolver.core.permissions import bits_to_add, bits_to_modify, bits_to_remove, bits_to_replace

if TYPE_CHECKING:
    from registry.records import HandleRecord
    from registry.store import Guard, HandleStore
    from registry.trust.keys import PublicKey
    from resolver.core.suspension import SuspendedPrefixes
    from resolver.core.usage import UsageCounter


T = TypeVar("T")


class CredentialChanged(ServiceError):
    """The credential a session proved is no longer the caller's (rotated, removed)."""


def credential_of(caller: Caller, record: Sequence[HandleValue]) -> bytes | None:
    """The fingerprint of the credential values of ``record`` (the caller's handle)
    ``caller`` proves itself with (see :meth:`ResolutionService.credential_version`)."""
    assert caller.handle is not None
    index = caller.index or 0
    values = sorted(
        (v for v in record
         if v.type in (TYPE_HS_SECKEY, TYPE_HS_PUBKEY) and (index == 0 or v.index == index)),
        key=lambda v: v.index,
    )
    if not values:
        return None
    digest = hashlib.sha256(name_key(caller.handle).encode("utf-8", "surrogatepass"))
    for v in values:
        digest.update(b"%d %s %d:" % (v.index, v.type.encode(), len(v.data)) + v.data)
    return digest.digest()

#: the values a create's checks read (the handle's existence needs none): the prefix
#: handle's HS_ADMIN (groups they name are looked up on their own) and the caller's keys
_CREATE_CHECK_TYPES = (TYPE_HS_ADMIN, TYPE_HS_SECKEY, TYPE_HS_PUBKEY)

#: the most work one answer may cost over all the keys it is tried against
MAX_ANSWER_WORK = 2 * MAX_PBKDF2_ITERATIONS
#: an answer naming no key index (index 0) is tried against at most this many
#: keys of the handle; a handle holding more needs the index (else anyone could
#: make one answer cost as many checks as keys a tenant planted)
MAX_KEYS_WITHOUT_INDEX = 4


def prefix_admin_handle(handle: str) -> tuple[str, int]:
    """The handle whose HS_ADMIN values allow creating ``handle``, and the bit needed.

    ``88.118.8/X`` -> ``0.NA/88.118.8`` (add handle); a prefix handle
    ``0.NA/88.118.8`` -> its parent ``0.NA/88.118`` (add derived prefix), and a
    top-level ``0.NA/88`` -> the root ``0.NA/0.NA``.
    """
    prefix, _, suffix = handle.partition("/")
    if name_key(prefix) == name_key(NA_HANDLE_PREFIX[:-1]):
        parent, dot, _ = suffix.rpartition(".")
        return (NA_HANDLE_PREFIX + parent if dot else ROOT_HANDLE), ADMIN_PERM_ADD_NA
    return NA_HANDLE_PREFIX + prefix, ADMIN_PERM_ADD_HANDLE



def whole_image(
    values: Sequence[HandleValue], types: Sequence[str], indexes: Sequence[int]
) -> RecordImage | None:
    """``values`` when they are a record's image (:mod:`protocol.record_image`) that
    answers the request whole: no types or indexes asked for and every value readable
    by anyone, so every caller gets all of it, sent as the image's bytes, undecoded."""
    if types or indexes or not isinstance(values, RecordImage) or values.withheld:
        return None
    return values

class ResolutionService:
    """Resolution and administration over one :class:`registry.store.HandleStore`.

    ``site_info`` is this node's HS_SITE value; ``server_admins`` are
    ``(handle, index)`` identities with every permission on every handle (the
    CNRI ``server_admins`` with ``allow_na_admins``); ``limits`` bounds what a
    client may store; ``answers`` (see :mod:`resolver.core.stack`) adds caching,
    referrals and recursion to resolution (without it: the store, uncached);
    ``trust_anchor`` is the root key :mod:`resolver.core.verification` checks
    signature chains up to, reading the handles of a chain's issuers no more than
    ``revocation_ttl`` seconds old (None: as cached; the ``revocation_ttl`` setting);
    ``usage`` counts answered resolutions for the
    node's statistics (:mod:`resolver.core.usage`); ``suspended``, when given,
    makes identifiers of suspended enterprises resolve as not found
    (:mod:`resolver.core.suspension`); ``crypto`` runs the credential checks
    anyone can ask for (:mod:`resolver.core.crypto_pool`).
    """

    def __init__(
        self,
        store: HandleStore,
        *,
        site_info: HandleValue | None = None,
        server_admins: Sequence[tuple[str, int]] = (),
        limits: Limits = DEFAULT_LIMITS,
        answers: Answers | None = None,
        trust_anchor: PublicKey | None = None,
        revocation_ttl: float | None = None,
        usage: UsageCounter | None = None,
        suspended: SuspendedPrefixes | None = None,
        crypto: CryptoPool | None = None,
    ) -> None:
        self.store = store
        self.crypto = crypto or CryptoPool()
        self.usage = usage
        self.suspended = suspended
        self.site_info = site_info
        self.server_admins = tuple(server_admins)
        self.limits = limits
        self.answers = answers
        self.trust_anchor = trust_anchor
        self.revocation_ttl = revocation_ttl

    async def close(self) -> None:
        """Release what the resolution stack holds (Redis connections, listeners)."""
        self.crypto.close()
        if self.answers is not None:
            await self.answers.close()

    # --- resolution ---------------------------------------------------------

    async def resolve(
        self,
        handle: str,
        *,
        types: Sequence[str] = (),
        indexes: Sequence[int] = (),
        caller: Caller | None = None,
        recursive: bool = False,
        max_age: float | None = None,
    ) -> Resolution:
        """Resolve ``handle``: values of the given types or indexes the caller may read.

        A handle under a delegated prefix is a service referral, unless
        ``recursive`` asks to follow referrals to the final answer.  Cached
        records are whole: read permissions are applied here, per caller.
        ``max_age`` (seconds) takes a cached record only if it was fetched from
        its authority more recently (verification's issuers, ``revocation_ttl``).
        """
        self._check_name(handle)
        if self.suspended is not None and self.suspended.refuses(handle):
            return Resolution(handle, RC_HANDLE_NOT_FOUND, ())
        answer = await self._answer(handle, recursive, max_age)
        values: Sequence[HandleValue] = ()
        selected: Sequence[HandleValue] = ()
        if answer.kind is Kind.FOUND:
            whole = whole_image(answer.values, types, indexes)
            if whole is not None:
                selected = values = whole
            else:
                selected = select_values(answer.values, types, indexes)
                values = await self._readable(handle, answer.values, selected,
                                              caller or ANONYMOUS)
        return self._resolution(handle, answer, selected, values)

    def resolve_now(
        self, handle: str, *, types: Sequence[str] = (), indexes: Sequence[int] = (),
        recursive: bool = False, withheld_ok: bool = True,
    ) -> Resolution | None:
        """What :meth:`resolve` answers an anonymous caller (no maximum age) when that
        needs no waiting (:meth:`resolver.core.stack.ResolutionStack.answer_now`), else
        None: then ask :meth:`resolve`.  Without ``withheld_ok``, also None when values
        are withheld (the caller is to be challenged instead); nothing is counted then."""
        if self.answers is None or not self._valid_name(handle):
            return None  # an invalid name gets its error from resolve()
        if self.suspended is not None and self.suspended.refuses(handle):
            return Resolution(handle, RC_HANDLE_NOT_FOUND, ())
        answer = self.answers.answer_now(handle, recursive=recursive)
        if answer is None:
            return None
        values: Sequence[HandleValue] = ()
        selected: Sequence[HandleValue] = ()
        if answer.kind is Kind.FOUND:
            found = answer.values
            whole = whole_image(found, types, indexes)
            if whole is not None:
                selected = values = whole
            else:
                selected = select_values(found, types, indexes)
                values = tuple(v for v in selected if v.public_read)  # what anyone may read
            if not withheld_ok and len(values) < len(selected):
                return None
        return self._resolution(handle, answer, selected, values)

    def _resolution(
        self, handle: str, answer: Answer, selected: Sequence[HandleValue],
        values: Sequence[HandleValue],
    ) -> Resolution:
        """The resolution of ``handle`` from ``answer``: ``values`` are those of the
        ``selected`` ones the caller may read (counted in the usage statistics)."""
        referral: tuple[HandleValue, ...] = ()
        if answer.kind is Kind.FOUND:
            code = RC_SUCCESS if values else RC_VALUES_NOT_FOUND
        elif answer.kind is Kind.REFERRAL:
            code, referral = RC_SERVICE_REFERRAL, tuple(answer.values)
        else:
            code = RC_HANDLE_NOT_FOUND
        if self.usage is not None:
            self.usage.resolved(handle, code)
        return Resolution(
            handle, code, values, answer.authoritative, answer.source, answer.stale, referral,
            answer.chain, len(selected) - len(values),
        )

    async def _answer(
        self, handle: str, recursive: bool, max_age: float | None = None
    ) -> Answer:
        """What the resolution stack knows about ``handle`` (the store when there is none)."""
        if self.answers is not None:
            return await self.answers.answer(handle, recursive=recursive, max_age=max_age)
        record = await self._lookup(handle)
        return Answer(Kind.ABSENT if record is None else Kind.FOUND, record or (), 0.0)

    async def _lookup(self, handle: str) -> tuple[HandleValue, ...] | None:
        """All values of ``handle`` from the store, or None if unknown.

        Authorisation and credential checks read through here, uncached, so a
        changed key or HS_ADMIN value counts at once."""
        record = await self.store.get_handle(handle)
        return None if record is None else record.values

    async def _readable(
        self, handle: str, record: Sequence[HandleValue], selected: Sequence[HandleValue],
        caller: Caller,
    ) -> tuple[HandleValue, ...]:
        """The values of ``selected`` ``caller`` may read (:mod:`registry.tiers`).

        Public values for everyone; with a restricted value selected and a
        caller who proved something: every admin-readable value for an
        administrator of the record or a console user of its owner, the
        partners-only ones for the owner's other identities and its partners.
        An anonymous caller costs no lookup."""
        public = tuple(v for v in selected if v.public_read)
        if caller.anonymous or len(public) == len(selected) or not any(
            v.admin_read for v in selected
        ):
            return public
        view = await self._view(handle, record, caller)
        if view == OWNER:
            return tuple(v for v in selected if v.public_read or v.admin_read)
        if view != PARTNERS:
            return public
        listed = partner_indexes(record)
        return tuple(v for v in selected if tier_of(v, listed) in (PUBLIC, PARTNERS))

    async def _view(self, handle: str, record: Sequence[HandleValue], caller: Caller) -> str:
        """Which tier's view ``caller`` gets of ``handle``: owner, partners or public."""
        if caller.authenticated and await self._is_admin(caller, record, ADMIN_PERM_READ_VALUE):
            return OWNER
        relation = await self.store.relation(
            handle, enterprise=caller.enterprise, identity=caller.handle)
        if relation == RELATION_OWNER and not caller.authenticated:
            return OWNER      # a console user of the owning enterprise: sees it all there too
        return PARTNERS if relation is not None and partner_indexes(record) else PUBLIC

    async def link_view(self, caller: Caller) -> LinkView | None:
        """Which where-used links ``caller`` may see (None: all, for a server admin);
        an anonymous caller costs no lookup (:data:`registry.links.PUBLIC_LINKS`)."""
        if caller.anonymous:
            return PUBLIC_LINKS
        if caller.authenticated and await self.is_server_admin(caller):
            return None
        return await self.store.link_view(enterprise=caller.enterprise, identity=caller.handle)

    async def get_site_info(self) -> HandleValue | None:
        """This node's HS_SITE value."""
        return self.site_info

    # --- administration ---------------------------------------------------------

    async def create_handle(
        self, handle: str, values: Sequence[HandleValue], *, caller: Caller,
        guard: Guard | None = None, proven: bytes | None = None,
    ) -> None:
        """Create ``handle``; needs add-handle (add-derived-prefix) on its prefix handle.
        ``guard`` runs inside the write's transaction (:meth:`HandleStore.create_handle`).
        ``proven``: the credential version a session proved for ``caller``
        (:meth:`credential_version`), read again with the handle and its prefix handle;
        :class:`CredentialChanged` when it is not the current one.

        The prefix handle (and the caller's handle, for ``proven``) are read with the
        create's lock, in its first trip (:class:`registry.store.ReadWith`), and checked
        there; a caller whose right comes only through admin groups (or none) is checked
        the way groups need, with reads of their own before the write."""
        self._check_name(handle)
        self._check_values(values)
        self._require_identity(caller)
        na, bit = prefix_admin_handle(handle)
        names = (na,) if proven is None else (na, caller.handle or "")

        async def check(records: list[HandleRecord | None], exists: bool) -> None:
            if proven is not None:
                _check_proven(caller, records[1], proven)
            if exists:
                raise ServiceError(RC_HANDLE_ALREADY_EXISTS, f"{handle} already exists")
            prefix_values = () if records[0] is None else records[0].values
            named, groups = self._is_direct_admin(caller, prefix_values, bit)
            if not named:
                if groups:
                    raise _GroupsToFollow
                raise ServiceError(RC_INSUFFICIENT_PERMISSIONS, "insufficient permissions")

        try:
            await self._write(handle, self.store.create_handle(
                handle, values, actor=_actor(caller), guard=guard,
                read_with=ReadWith(names, _CREATE_CHECK_TYPES, check)))
        except _GroupsToFollow:
            await self._create_with_groups(handle, values, caller, guard, proven)

    async def _create_with_groups(
        self, handle: str, values: Sequence[HandleValue], caller: Caller,
        guard: Guard | None, proven: bytes | None,
    ) -> None:
        """:meth:`create_handle` for a caller not named by the prefix handle's HS_ADMIN
        itself: the admin groups are followed before the write (their lookups may leave
        the node: never under the write lock), with the records the checks read."""
        na, bit = prefix_admin_handle(handle)
        if proven is None:
            # the handle and its prefix handle in one read
            record, prefix_record = await self.store.get_handles(
                [handle, na], types=_CREATE_CHECK_TYPES)
        else:  # and the caller's handle, for its credential
            assert caller.handle is not None
            record, prefix_record, mine = await self.store.get_handles(
                [handle, na, caller.handle], types=_CREATE_CHECK_TYPES)
            _check_proven(caller, mine, proven)
        if record is not None:
            raise ServiceError(RC_HANDLE_ALREADY_EXISTS, f"{handle} already exists")
        await self._require(caller, () if prefix_record is None else prefix_record.values, bit)
        await self._write(handle, self.store.create_handle(handle, values, actor=_actor(caller),
                                                           guard=guard))

    async def replace_handle(
        self, handle: str, values: Sequence[HandleValue], *, caller: Caller
    ) -> None:
        """Create ``handle`` or overwrite all its values (CNRI create with overwrite)."""
        self._check_name(handle)
        self._check_values(values)
        self._require_identity(caller)
        record = await self.store.get_handle(handle)
        if record is None:
            await self._authorize_create(caller, handle)
            await self._write(
                handle, self.store.create_handle(handle, values, actor=_actor(caller))
            )
            return
        existing = record.values
        bits = bits_to_replace(existing, values)
        if not (
            await self._is_admin(caller, existing, bits)
            or await self._is_admin(caller, existing, ADMIN_PERM_DELETE_HANDLE)
        ):
            await self._authorize_create(caller, handle)
        await self._write(handle, self.store.replace_handle(
            handle, values, actor=_actor(caller), expected_version=record.version
        ))

    async def add_values(
        self, handle: str, values: Sequence[HandleValue], *, caller: Caller
    ) -> None:
        """Add values with new indexes (add-value / add-admin)."""
        self._check_name(handle)
        self._check_values(values)
        if not values:
            raise ServiceError(RC_INVALID_VALUE, "value list was empty")
        self._require_identity(caller)
        record = await self._existing(handle)
        taken = {v.index for v in record.values}
        clash = [v.index for v in values if v.index in taken]
        if clash:
            raise ServiceError(RC_VALUE_ALREADY_EXISTS, f"index conflict for {clash[0]}")
        await self._require(caller, record.values, bits_to_add(values))
        await self._write(handle, self.store.add_values(
            handle, values, actor=_actor(caller), expected_version=record.version
        ))

    async def modify_values(
        self, handle: str, values: Sequence[HandleValue], *, caller: Caller
    ) -> None:
        """Replace the values with the same indexes (modify-value / modify-admin...)."""
        self._check_name(handle)
        self._check_values(values)
        record = await self._existing(handle)
        for v in values:
            if v.index not in {old.index for old in record.values}:
                raise ServiceError(RC_VALUES_NOT_FOUND, f"no value at index {v.index}")
        await self._authorize_modify(caller, record.values, values)
        await self._write(handle, self.store.modify_values(
            handle, values, actor=_actor(caller), expected_version=record.version
        ))

    async def put_values(
        self, handle: str, values: Sequence[HandleValue], *, caller: Caller, overwrite: bool
    ) -> bool:
        """Add ``values`` at new indexes and, when ``overwrite``, modify those at existing
        ones, as one write (REST ``PUT ?index=``); True when every value was new.

        The caller is authorised inside the store's transaction, against the locked
        record the write changes, so concurrent writers cannot interleave."""
        self._check_name(handle)
        self._check_values(values)
        if not values:
            raise ServiceError(RC_INVALID_VALUE, "value list was empty")
        self._require_identity(caller)
        modified: list[HandleValue] = []

        async def authorize(existing: Sequence[HandleValue]) -> None:
            present = {v.index for v in existing}
            modified[:] = [v for v in values if v.index in present]
            if modified and not overwrite:
                raise ServiceError(
                    RC_VALUE_ALREADY_EXISTS, f"index conflict for {modified[0].index}"
                )
            added = [v for v in values if v.index not in present]
            await self._require(caller, existing, bits_to_add(added))
            await self._authorize_modify(caller, existing, modified)

        await self._write(handle, self.store.upsert_values(
            handle, values, actor=_actor(caller), check=authorize
        ))
        return not modified

    async def remove_values(self, handle: str, indexes: Sequence[int], *, caller: Caller) -> None:
        """Remove the values at ``indexes`` (remove-value / remove-admin)."""
        self._check_name(handle)
        self._require_identity(caller)
        record = await self._existing(handle)
        existing = record.values
        present = {v.index for v in existing}
        missing = [i for i in indexes if i not in present]
        if missing:
            raise ServiceError(RC_VALUES_NOT_FOUND, f"no value at index {missing[0]}")
        await self._require(caller, existing, bits_to_remove(existing, indexes))
        await self._write(handle, self.store.remove_values(
            handle, indexes, actor=_actor(caller), expected_version=record.version
        ))

    async def delete_handle(self, handle: str, *, caller: Caller) -> None:
        """Delete ``handle`` (delete-handle)."""
        self._check_name(handle)
        self._require_identity(caller)
        record = await self._existing(handle)
        await self._require(caller, record.values, ADMIN_PERM_DELETE_HANDLE)
        await self._write(handle, self.store.delete_handle(
            handle, actor=_actor(caller), expected_version=record.version
        ))

    async def list_handles(
        self, prefix: str, *, caller: Caller | None, page: int = 0, page_size: int = 100
    ) -> list[str]:
        """Handles under ``prefix``; needs list-handles on ``0.NA/<prefix>``."""
        bare = await self._listable(prefix, caller)
        size = max(1, min(page_size, self.limits.list_page_size))
        return list(await self.store.list_handles(bare, page=page, page_size=size))

    async def all_handles(self, prefix: str, *, caller: Caller | None) -> list[str]:
        """Every handle under ``prefix``: authorised once, then read a
        :attr:`Limits.list_page_size` page at a time, each page after the last name
        of the one before (keyset: no page re-reads the rows before it); the front
        ends page the answer their own way."""
        bare = await self._listable(prefix, caller)
        size = self.limits.list_page_size
        found: list[str] = []
        while True:
            after = found[-1] if found else None
            batch = await self.store.list_handles(bare, page_size=size, after=after)
            found.extend(batch)
            if len(batch) < size:
                return found

    async def _listable(self, prefix: str, caller: Caller | None) -> str:
        """``prefix`` without ``0.NA/`` once ``caller`` may list its handles."""
        caller = caller or ANONYMOUS
        self._require_identity(caller)
        if (problem := unstorable(prefix)) is not None:
            raise ServiceError(RC_INVALID_HANDLE, f"prefix {problem}")
        na = prefix if name_key(prefix).startswith(name_key(NA_HANDLE_PREFIX)) else (
            NA_HANDLE_PREFIX + prefix
        )
        await self.authorize(caller, na, ADMIN_PERM_LIST_HANDLES)
        return na[len(NA_HANDLE_PREFIX) :]

    async def authorize(self, caller: Caller, handle: str, permission: int) -> None:
        """Raise ServiceError unless an HS_ADMIN of ``handle`` grants ``caller`` every bit asked."""
        self._require_identity(caller)
        await self._require(caller, await self._lookup(handle) or (), permission)

    # --- authentication -----------------------------------------------------------

    async def verify_secret_key_answer(
        self,
        handle: str,
        index: int,
        nonce: bytes,
        request_digest: bytes,
        answer: bytes,
        *,
        old_format: bool = False,
        spoofable: bool = False,
    ) -> bool:
        """Whether ``answer`` to a challenge was made with an HS_SECKEY of ``handle``
        (``spoofable``: asked from an unproven address, see :mod:`resolver.core.crypto_pool`).

        ``index`` 0 tries every HS_SECKEY value (``HandleServer.verifyChallenge``),
        up to :data:`MAX_KEYS_WITHOUT_INDEX` of them.  The answer is refused
        unchecked when it would cost more than :data:`MAX_PBKDF2_ITERATIONS` per
        key or :data:`MAX_ANSWER_WORK` in all; the check runs on :attr:`crypto`.
        """
        values = await self._credential_values(handle, index, TYPE_HS_SECKEY)
        if not values or not _affordable(answer, old_format, len(values)):
            return False
        keys = [decode_secret_key(v.data) for v in values]
        return await self._crypto(
            spoofable, _any_secret_matches, keys, nonce, request_digest, answer, old_format
        )

    async def verify_public_key_answer(
        self, handle: str, index: int, nonce: bytes, request_digest: bytes, answer: bytes,
        *, spoofable: bool = False,
    ) -> int | None:
        """The index of the HS_PUBKEY of ``handle`` that signed the challenge, or None.

        ``index`` 0 tries the HS_PUBKEY values in index order, as CNRI does, up
        to :data:`MAX_KEYS_WITHOUT_INDEX` of them; the checks run on :attr:`crypto`.
        """
        values = await self._credential_values(handle, index, TYPE_HS_PUBKEY)
        if not values:
            return None
        return await self._crypto(
            spoofable, _first_signer, values, nonce, request_digest, answer
        )

    async def _crypto(self, spoofable: bool, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the crypto pool; a full pool is RC_SERVER_TOO_BUSY."""
        try:
            return await self.crypto.run(fn, *args, spoofable=spoofable)
        except CryptoBusy as exc:
            raise ServiceError(exc.response_code, str(exc)) from None

    async def authenticate_secret_key(self, handle: str, index: int, secret: bytes) -> Caller:
        """The caller proven by presenting the secret key itself (REST basic auth).

        Raises ServiceError(RC_AUTHENTICATION_FAILED) when no HS_SECKEY matches.
        """
        for value in await self._credential_values(handle, index, TYPE_HS_SECKEY):
            if hmac.compare_digest(decode_secret_key(value.data), secret):
                return Caller(handle, value.index)
        raise ServiceError(RC_AUTHENTICATION_FAILED, "authentication failed")

    async def authenticate_signature(
        self, handle: str, index: int, nonce: bytes, request_digest: bytes, answer: bytes
    ) -> Caller:
        """The caller proven by a HS_PUBKEY signed answer over ``nonce + request_digest``."""
        found = await self.verify_public_key_answer(handle, index, nonce, request_digest, answer)
        if found is None:
            raise ServiceError(RC_AUTHENTICATION_FAILED, "authentication failed")
        return Caller(handle, found)

    async def credential_version(self, caller: Caller) -> bytes | None:
        """A fingerprint of the credential values ``caller`` proves itself with
        (its HS_SECKEY / HS_PUBKEY at its index, every one for index 0), read
        uncached; None when there are none.  Sessions keep the fingerprint from
        their authentication and end when it changes: rotating a key (``idnode
        enterprise credentials`` again) ends every session opened with the old one."""
        if caller.handle is None:
            return None
        return credential_of(caller, await self._lookup(caller.handle) or ())

    async def session_still_valid(self, caller: Caller, version: bytes | None) -> bool:
        """Whether a session authenticated as ``caller`` with credential ``version``
        may still act as it (see :meth:`credential_version`)."""
        current = await self.credential_version(caller)
        return current is not None and version is not None and hmac.compare_digest(
            current, version
        )

    async def _credential_values(
        self, handle: str, index: int, type_name: str
    ) -> list[HandleValue]:
        """The keys of ``type_name`` an answer for ``handle``:``index`` is checked
        against; none when index 0 would mean more than :data:`MAX_KEYS_WITHOUT_INDEX`."""
        record = await self._lookup(handle) or ()
        found = sorted(
            (v for v in record if v.type == type_name and (index == 0 or v.index == index)),
            key=lambda v: v.index,
        )
        return found if len(found) <= MAX_KEYS_WITHOUT_INDEX else []

    # --- helpers ------------------------------------------------------------------

    def _check_name(self, handle: str) -> None:
        """The registry's name rules, with this node's length limit."""
        try:
            split_handle(handle, self.limits.max_handle_length)
        except StoreError as exc:
            raise ServiceError(exc.response_code, str(exc)) from None

    def _valid_name(self, handle: str) -> bool:
        """Whether ``handle`` passes :meth:`_check_name`."""
        try:
            split_handle(handle, self.limits.max_handle_length)
        except StoreError:
            return False
        return True

    @staticmethod
    def _check_values(values: Sequence[HandleValue]) -> None:
        """The store's value checks, before authorisation (so a bad value is named first)."""
        try:
            check_values(values)
        except StoreError as exc:
            raise ServiceError(exc.response_code, str(exc)) from None

    @staticmethod
    def _require_identity(caller: Caller) -> None:
        if not caller.authenticated:
            raise ServiceError(RC_AUTHENTICATION_NEEDED, "authentication needed")

    async def _existing(self, handle: str) -> HandleRecord:
        record = await self.store.get_handle(handle)
        if record is None:
            raise ServiceError(RC_HANDLE_NOT_FOUND, f"{handle} not found")
        return record

    async def _authorize_create(self, caller: Caller, handle: str) -> None:
        na, bit = prefix_admin_handle(handle)
        await self._require(caller, await self._lookup(na) or (), bit)

    async def _require(self, caller: Caller, values: Sequence[HandleValue], bits: int) -> None:
        if not await self._is_admin(caller, values, bits):
            raise ServiceError(RC_INSUFFICIENT_PERMISSIONS, "insufficient permissions")

    async def _write(self, handle: str, write: Awaitable[object]) -> None:
        """Run a store write (its rules apply inside it); caches everywhere forget the
        handle before this returns.  A write with ``expected_version`` fails when the
        record changed since it was authorised (RC_ERROR from the store)."""
        try:
            await write
        except StoreError as exc:
            raise ServiceError(exc.response_code, str(exc)) from None
        await self._invalidate(handle)

    async def _authorize_modify(
        self, caller: Caller, existing: Sequence[HandleValue], values: Sequence[HandleValue]
    ) -> None:
        """Modify-value rights for overwriting ``existing`` values with ``values``."""
        by_index = {v.index: v for v in existing}
        if any(not by_index[v.index].admin_write for v in values):
            raise ServiceError(RC_INSUFFICIENT_PERMISSIONS, "value is read-only")
        bits = bits_to_modify(existing, values)
        if bits:
            self._require_identity(caller)
            await self._require(caller, existing, bits)

    async def _invalidate(self, handle: str) -> None:
        if self.answers is not None:
            await self.answers.invalidate([handle])

    async def is_server_admin(self, caller: Caller) -> bool:
        """Is ``caller`` one of the node's ``server_admins`` (or in a group they list)?"""
        return await self._is_admin(caller, (), 0)

    async def _is_admin(self, caller: Caller, values: Sequence[HandleValue], bits: int) -> bool:
        """``HandleServer.adminHasPermission``: server admins, then HS_ADMIN, then groups."""
        if caller.handle is None:
            return False
        named, pending = self._is_direct_admin(caller, values, bits)
        if named:
            return True
        return await self._in_group((name_key(caller.handle), caller.index or 0), pending)

    def _is_direct_admin(
        self, caller: Caller, values: Sequence[HandleValue], bits: int
    ) -> tuple[bool, deque[tuple[str, int]]]:
        """Whether a server admin or one of ``values``' HS_ADMIN with ``bits`` names
        ``caller`` itself; else the admins named, groups to look in (:meth:`_in_group`)."""
        pending: deque[tuple[str, int]] = deque()
        if caller.handle is None:
            return False, pending
        me = (name_key(caller.handle), caller.index or 0)
        for ref in self.server_admins:
            if _matches(ref, me):
                return True, pending
            pending.append(ref)
        for v in values:
            if v.type != TYPE_HS_ADMIN:
                continue
            try:
                admin = decode_admin_record(v.data)
            except ProtocolError:
                continue
            if not admin.has(bits):
                continue
            ref = (admin.admin_handle, admin.admin_index)
            if _matches(ref, me):
                return True, pending
            pending.append(ref)
        return False, pending

    async def _in_group(self, me: tuple[str, int], pending: deque[tuple[str, int]]) -> bool:
        """``HandleServer.isAdminInGroup``: follow HS_VLIST references breadth first."""
        seen: set[tuple[str, int]] = set()
        lookups = 0
        while pending and lookups < self.limits.max_group_lookups:
            handle, index = pending.popleft()
            key = (name_key(handle), index)
            if key in seen or index == 0:
                seen.add(key)
                continue
            seen.add(key)
            lookups += 1
            for v in await self._lookup(handle) or ():
                if v.index != index or v.type != TYPE_HS_VLIST:
                    continue
                try:
                    members = decode_vlist(v.data)
                except ProtocolError:
                    continue
                for m in members:
                    ref = (m.handle, m.index)
                    if _matches(ref, me):
                        return True
                    if (name_key(m.handle), m.index) not in seen:
                        pending.append(ref)
        return False


class _GroupsToFollow(Exception):
    """A create's check under its lock found no HS_ADMIN naming the caller itself: the
    write is dropped, and the groups are followed outside it (:meth:`_create_with_groups`)."""


def _check_proven(caller: Caller, mine: HandleRecord | None, proven: bytes) -> None:
    """:class:`CredentialChanged` unless ``proven`` is the credential version of
    ``caller``'s handle ``mine`` now (see :meth:`ResolutionService.credential_version`)."""
    current = None if mine is None else credential_of(caller, mine.values)
    if current is None or not hmac.compare_digest(current, proven):
        raise CredentialChanged(RC_SESSION_TIMEOUT, "the session's credential changed")


def _affordable(answer: bytes, old_format: bool, keys: int) -> bool:
    """Whether checking ``answer`` against ``keys`` keys stays within the limits
    (:data:`MAX_PBKDF2_ITERATIONS` per key, :data:`MAX_ANSWER_WORK` in all):
    anyone may send one, so a dearer one is refused unchecked."""
    try:
        work = auth.secret_key_answer_work(answer, old_format)
    except ProtocolError:
        return False
    return work <= MAX_PBKDF2_ITERATIONS and work * keys <= MAX_ANSWER_WORK


def _any_secret_matches(
    keys: Sequence[bytes], nonce: bytes, digest: bytes, answer: bytes, old_format: bool
) -> bool:
    return any(
        auth.verify_secret_key_answer(nonce, digest, key, answer, old_format) for key in keys
    )


def _first_signer(
    values: Sequence[HandleValue], nonce: bytes, digest: bytes, answer: bytes
) -> int | None:
    """The index of the first of ``values`` (HS_PUBKEY) whose key verifies ``answer``."""
    for value in values:
        try:
            key = decode_public_key(value.data)
        except ProtocolError:
            continue
        if auth.verify_public_key_answer(nonce, digest, key, answer):
            return value.index
    return None


def _actor(caller: Caller) -> str:
    """How the audit log names the caller: ``index:handle``."""
    return f"{caller.index}:{caller.handle}" if caller.authenticated else "anonymous"


def _matches(ref: tuple[str, int], me: tuple[str, int]) -> bool:
    """``ValueReference.isMatchedBy``: same handle, and index 0 matches any index."""
    return name_key(ref[0]) == me[0] and (ref[1] == 0 or ref[1] == me[1])
