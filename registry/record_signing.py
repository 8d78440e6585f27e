"""Enterprise-side signing: choose an enterprise's records and sign them with its own key.

One implementation behind ``idnode sign`` (:mod:`admin.commands.sign`) and the
portal's Sign records page (:mod:`resolver.http.console.signing`).  For each
selected handle :class:`Signer` computes an HS_SIGNATURE value (Handle 9
semantics, :mod:`registry.trust.signatures`) over the record as it is, through
:class:`registry.signing_policy.SigningPolicy` (which signs and checks what it
signed), and writes that one value at the index of the signer's earlier
signature, else the first free one from 400.  The writer (:class:`Records`)
holds it to the node's write rules, which verify it again against the record
being stored.  The signer is the value reference the key is known by on the
prefix handle ``0.NA/<prefix>``: the ``sub`` of the HS_CERT binding it, else
the HS_PUBKEY holding it (:meth:`Signer.signer_for`; the key must have been
certified or published first: ``idnode cert request`` / ``keys publish``).

What is signed (:class:`Selection`): named handles, then every record under
named prefixes.  With ``expiring`` (seconds) a :class:`Signer` signs only the
records whose signature by this signer expires within that window or has
expired (a record it never signed is not due), so a daily job renews them
before they lapse.  ``limit`` bounds how many records one run looks at.

Before the first record of a prefix is signed, the key's own chain is checked
once per run (:meth:`Signer.key_warning`): the HS_CERT binding it verified up to
``trust_anchor`` (:func:`registry.trust.verify.verify_cert`: dates, revocation,
each issuer's authority).  A key that is revoked, expired, not certified up to the
anchor, or only published as an HS_PUBKEY still signs (the records are the
enterprise's), but :attr:`Outcome.warnings` says so, naming the key's thumbprint
and the reason, since readers will not see the records as verified.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from protocol.constants import TYPE_HS_SIGNATURE
from protocol.values import HandleValue
from registry.errors import HandleNotFound, StoreError
from registry.names import name_key
from registry.signing_policy import NO_ANCHOR, SigningPolicy
from registry.store import HandleStore
from registry.trust.certs import latest_cert_about, signed_values
from registry.trust.claims import ValueRef
from registry.trust.keys import PrivateKey, PublicKey, jwk_thumbprint
from registry.trust.verify import Status, verify_cert

NOT_FOUND = "not found"
#: how many certificate-chain handles one signing run keeps (a run signs for few prefixes)
CHAIN_CACHE = 64


class Records(Protocol):
    """Where records are read and the signatures written (a registry or a Handle server)."""

    async def values(self, handle: str) -> list[HandleValue]:
        """The public values of ``handle``; :class:`HandleNotFound` when it does not exist."""

    async def put(self, handle: str, value: HandleValue, existing: list[HandleValue]) -> None:
        """Add ``value`` to ``handle`` or overwrite the value at its index (``existing`` is
        the record it was computed from)."""

    def under(self, prefix: str) -> AsyncIterator[tuple[str, list[HandleValue]]]:
        """Every record under ``prefix``: handle and values."""


class StoreRecords:
    """:class:`Records` of this node's registry, written in audited writes as ``actor``;
    ``written`` is awaited with each handle after its write (e.g. to drop cached answers)."""

    def __init__(self, store: HandleStore, actor: str,
                 written: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.actor = actor
        self.written = written

    async def values(self, handle: str) -> list[HandleValue]:
        """The values of ``handle`` in the registry."""
        record = await self.store.get_handle(handle)
        if record is None:
            raise HandleNotFound(f"handle {handle} not found")
        return list(record.values)

    async def put(self, handle: str, value: HandleValue, existing: list[HandleValue]) -> None:
        """One audited write, held to the node's write rules."""
        del existing
        await self.store.upsert_values(handle, [value], actor=self.actor)
        if self.written is not None:
            await self.written(handle)

    async def under(self, prefix: str) -> AsyncIterator[tuple[str, list[HandleValue]]]:
        """Every record under ``prefix`` in key order."""
        async for record in self.store.iter_handles(prefix):
            yield record.name, list(record.values)


@dataclass(frozen=True, slots=True)
class Selection:
    """What to sign: ``handles`` by name, then every record under each of ``prefixes``."""

    handles: Sequence[str] = ()
    prefixes: Sequence[str] = ()

    def __bool__(self) -> bool:
        return bool(self.handles or self.prefixes)


@dataclass(frozen=True, slots=True)
class Failure:
    """A selected record that was not signed: its handle, why, and the error if one was
    raised (None: the handle does not exist)."""

    handle: str
    reason: str
    error: Exception | None = None

    def __str__(self) -> str:
        return f"{self.handle}: {self.reason}"


@dataclass(frozen=True, slots=True)
class KeyWarning:
    """Why signatures by the key known as ``signer`` (thumbprint ``thumbprint``) will not
    verify for readers: ``status`` (revoked, expired, untrusted, uncertified) and why."""

    thumbprint: str
    signer: str
    status: str
    reason: str

    def __str__(self) -> str:
        return (f"signing key {self.thumbprint} ({self.signer}) is {self.status}: "
                f"{self.reason}")


@dataclass(slots=True)
class Outcome:
    """A signing run: the rows signed, how many were not due, the failures, and whether
    it stopped at its limit with records left."""

    signed: list[dict[str, Any]] = field(default_factory=list)
    not_due: int = 0
    failed: list[Failure] = field(default_factory=list)
    more: bool = False
    warnings: list[KeyWarning] = field(default_factory=list)


class Signer:
    """Signs records of ``records`` with ``key``, valid ``days``; with ``expiring`` (seconds)
    only those whose signature by this key expires within it.  ``refused`` names the
    exception types of ``records`` (besides :class:`StoreError`) that fail one record
    rather than the whole run.  ``trust_anchor`` ends the chain the key is checked up
    (None: no chain can end, every key is warned about)."""

    def __init__(self, records: Records, key: PrivateKey, days: int, expiring: int | None,
                 *, refused: tuple[type[Exception], ...] = (),
                 trust_anchor: PublicKey | None = None) -> None:
        self.records = records
        self.key = key
        self.days = days
        self.deadline = None if expiring is None else int(time.time()) + expiring
        self.refused: tuple[type[Exception], ...] = (StoreError, *refused)
        self._signers: dict[str, ValueRef] = {}
        self._chain: dict[str, list[HandleValue] | None] = {}
        self.trust_anchor = trust_anchor
        #: the key's chain checked, by prefix: None when it holds
        self.checked: dict[str, KeyWarning | None] = {}

    async def fetch(self, handle: str) -> list[HandleValue] | None:
        """``handle``'s values, None when it does not exist; read once per run (the policy
        only fetches the certificate chain's handles, the same for every record of a
        prefix; at most :data:`CHAIN_CACHE` of them are kept)."""
        key = name_key(handle)
        if key in self._chain:
            return self._chain[key]
        try:
            found: list[HandleValue] | None = await self.records.values(handle)
        except HandleNotFound:
            found = None
        if len(self._chain) < CHAIN_CACHE:
            self._chain[key] = found
        return found

    def policy(self, prefix: str) -> SigningPolicy:
        """The signing policy that signs ``prefix``'s handles with this key."""
        return SigningPolicy(self.fetch, signers={name_key(prefix): self.key},
                             signature_days=self.days)

    async def signer_for(self, prefix: str) -> ValueRef:
        """The reference this key is known by on ``0.NA/<prefix>``;
        :class:`registry.signing_policy.SigningUnavailable` when none holds it."""
        found = self._signers.get(name_key(prefix))
        if found is None:
            found = await self.policy(prefix).signer_ref(prefix, self.key)
            self._signers[name_key(prefix)] = found
        return found

    async def key_warning(self, prefix: str) -> KeyWarning | None:
        """Why this key's signatures for ``prefix`` will not verify (None: its chain holds
        up to the trust anchor); checked once per run."""
        if name_key(prefix) in self.checked:
            return self.checked[name_key(prefix)]
        signer = await self.signer_for(prefix)
        try:
            found = await self._check_chain(signer)
        except self.refused as exc:
            found = KeyWarning(jwk_thumbprint(self.key.public_key()), str(signer), "unchecked",
                               f"its certificate chain could not be read: {exc}")
        self.checked[name_key(prefix)] = found
        return found

    async def _check_chain(self, signer: ValueRef) -> KeyWarning | None:
        holder = signer.handle
        thumbprint = jwk_thumbprint(self.key.public_key())
        cert = latest_cert_about(holder, await self.fetch(holder) or [], str(signer))
        found: KeyWarning | None = None
        if cert is None:
            found = KeyWarning(thumbprint, str(signer), "uncertified",
                               f"only an HS_PUBKEY on {holder} publishes it; no HS_CERT "
                               "certifies it up to the trust anchor")
        else:
            [value] = [v for v in await self.fetch(holder) or [] if v.index == cert.index]
            status, reason, _links = await verify_cert(
                holder, value, fetch=self.fetch, trust_anchor=self.trust_anchor or NO_ANCHOR)
            if status is not Status.VALID:
                if self.trust_anchor is None:
                    reason = f"no trust anchor is configured (trust_anchor_path); {reason}"
                found = KeyWarning(thumbprint, str(signer), str(status), reason)
        return found

    def warnings(self) -> list[KeyWarning]:
        """The warnings of the run so far, one per prefix whose key chain does not hold."""
        return [w for w in self.checked.values() if w is not None]

    def due(self, handle: str, values: list[HandleValue], signer: ValueRef) -> bool:
        """Whether ``expiring`` selects ``handle`` (always without it)."""
        if self.deadline is None:
            return True
        mine = [s for s in signed_values(handle, values, TYPE_HS_SIGNATURE)
                if ValueRef.parse(s.claims.iss).same(signer)]
        return any(s.claims.exp is None or s.claims.exp <= self.deadline for s in mine)

    async def sign(self, handle: str, values: list[HandleValue]) -> dict[str, Any] | None:
        """Sign ``handle`` (whose record is ``values``); its row, or None when not due."""
        prefix = handle.partition("/")[0]
        signer = await self.signer_for(prefix)
        if not self.due(handle, values, signer):
            return None
        await self.key_warning(prefix)
        signed = await self.policy(prefix).prepare(handle, values) or values
        [new] = [s for s in signed_values(handle, signed, TYPE_HS_SIGNATURE)
                 if ValueRef.parse(s.claims.iss).same(signer)]
        [signature] = [v for v in signed if v.index == new.index]
        await self.records.put(handle, signature, values)
        return {"handle": handle, "index": new.index, "signer": str(signer),
                "expires": new.claims.exp, "chain": list(new.claims.chain or ())}


async def selected(selection: Selection, records: Records
                   ) -> AsyncIterator[tuple[str, list[HandleValue] | None]]:
    """The handles ``selection`` names with their records (None: named but missing)."""
    for handle in selection.handles:
        try:
            yield handle, await records.values(handle)
        except HandleNotFound:
            yield handle, None
    for prefix in selection.prefixes:
        async for found in records.under(prefix):
            yield found


async def sign_selected(signer: Signer, selection: Selection, *, limit: int | None = None
                        ) -> Outcome:
    """Sign every record of ``selection`` (at most ``limit`` of them: then ``more`` says
    whether any was left)."""
    outcome = Outcome()
    seen = 0
    async for handle, values in selected(selection, signer.records):
        if limit is not None and seen >= limit:
            outcome.more = True
            break
        seen += 1
        if values is None:
            outcome.failed.append(Failure(handle, NOT_FOUND))
            continue
        try:
            row = await signer.sign(handle, values)
        except signer.refused as exc:
            outcome.failed.append(Failure(handle, str(exc), exc))
            continue
        if row is None:
            outcome.not_due += 1
        else:
            outcome.signed.append(row)
    outcome.warnings = signer.warnings()
    return outcome
