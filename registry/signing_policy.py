"""Verify-on-write and sign-on-behalf: what the registry does with signed records it stores.

The store passes every record a write is about to leave through
:meth:`SigningPolicy.prepare`, inside the write's transaction
(:mod:`registry.write_rules`), whoever the writer is:

* **Sign on behalf.**  For a handle under a prefix listed in the
  ``sign_on_behalf`` setting, the node holds that enterprise's private key in
  ``<data_dir>/keys/enterprises/<prefix>.pem`` (PKCS#8 PEM, unencrypted because
  the node signs unattended; mode 0600, e.g. ``idnode keys gen --out
  keys/enterprises/88.118.8.pem``).  After each write the node replaces the
  HS_SIGNATURE it made earlier with a fresh one over the record as stored,
  valid for ``signature_days``.  It signs as the value reference the
  enterprise's key is known by on its prefix handle ``0.NA/<prefix>``: the
  ``sub`` of the HS_CERT binding that key, else the index of the HS_PUBKEY
  holding it.
* **Verify on write.**  Every HS_SIGNATURE of the record being stored must
  verify: its JWS under the signer's key and its digests against the values
  being stored.  One that does not is refused with RC_INVALID_VALUE, naming the
  signature and the value(s) that fail.  The rest of the chain (certificate
  dates, revocation, the issuer's authority) is not judged on write: the
  verification on resolution reports it.  A signer whose key cannot be found
  from here (an issuer this node cannot resolve) cannot be checked and is
  let through, to be judged on resolution.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from protocol.constants import TYPE_HS_CERT, TYPE_HS_PUBKEY, TYPE_HS_SIGNATURE
from protocol.values import HandleValue
from registry.config import ConfigError, NodeConfig
from registry.errors import InvalidValue, StoreError
from registry.names import name_key, prefix_handle
from registry.trust.certs import signed_values
from registry.trust.claims import ValueRef
from registry.trust.errors import TrustError
from registry.trust.keys import (
    PrivateKey,
    PublicKey,
    generate_key,
    hs_pubkey_to_public_key,
    load_private_key,
    load_public_key_pem,
    same_key,
)
from registry.trust.signatures import sign_record
from registry.trust.verify import Fetch, SignatureReport, Status, chain_hint, verify_record

ENTERPRISE_KEYS_DIR = Path("keys/enterprises")
TRUST_ANCHOR_FILE = Path("keys/trust_anchor.pub")
DAY = 86_400
_NA_KEY = name_key(prefix_handle(""))
_SIGNATURE_LENGTH = len(TYPE_HS_SIGNATURE)  # name_key keeps the length


def has_signature(values: Iterable[HandleValue]) -> bool:
    """Whether ``values`` hold an HS_SIGNATURE (its type in any ASCII case)."""
    for v in values:  # a loop, not any(): every record of a bulk import asks
        if len(v.type) == _SIGNATURE_LENGTH and name_key(v.type) == TYPE_HS_SIGNATURE:
            return True
    return False
#: stands in for a missing trust anchor: no signature verifies under it
NO_ANCHOR: PublicKey = generate_key("ed25519").public_key()


class SignatureRejected(InvalidValue):
    """A write carried an HS_SIGNATURE that does not verify against the record being stored."""


class SigningUnavailable(StoreError):
    """The node is to sign for an enterprise but cannot (its key is not on the prefix handle)."""


def read_public_key(data: bytes) -> PublicKey:
    """A public key from a PEM ``PUBLIC KEY`` or a private key PEM (its public half, only if
    unencrypted) or HS_PUBKEY value data; :class:`TrustError` says why not."""
    text = data.lstrip()
    if text.startswith(b"-----BEGIN PUBLIC KEY-----"):
        return load_public_key_pem(data)
    if text.startswith(b"-----BEGIN"):
        return load_private_key(data).public_key()
    return hs_pubkey_to_public_key(data)


def enterprise_key_path(config: NodeConfig, prefix: str) -> Path:
    """Where the node keeps the key it signs with on behalf of ``prefix``'s enterprise."""
    return config.path(ENTERPRISE_KEYS_DIR / f"{prefix}.pem")


def load_trust_anchor(config: NodeConfig) -> PublicKey | None:
    """The root's public key from ``trust_anchor_path`` (when unset: ``keys/trust_anchor.pub``
    in the data dir if there, as ``idnode cert fetch --anchor-thumbprint`` installs it), or
    None when there is none."""
    path = config.path(config.trust_anchor_path)
    if str(config.trust_anchor_path) in ("", "."):
        path = config.path(TRUST_ANCHOR_FILE)
        if not path.is_file():
            return None
    try:
        return read_public_key(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"trust_anchor_path: cannot read {path}: {exc.strerror}") from None
    except TrustError as exc:
        raise ConfigError(f"trust_anchor_path: {path}: {exc}") from None


def install_trust_anchor(config: NodeConfig, source: Path) -> NodeConfig:
    """Copy the root's public key ``source`` into the data dir; ``config`` naming the copy."""
    try:
        data = source.read_bytes()
        read_public_key(data)
    except OSError as exc:
        raise ConfigError(f"trust anchor: cannot read {source}: {exc.strerror}") from None
    except TrustError as exc:
        raise ConfigError(f"trust anchor: {source}: {exc}") from None
    target = config.path(TRUST_ANCHOR_FILE)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return dataclasses.replace(config, trust_anchor_path=TRUST_ANCHOR_FILE)


def load_signers(config: NodeConfig) -> dict[str, PrivateKey]:
    """The enterprise keys ``sign_on_behalf`` names, by prefix key; ConfigError if one fails."""
    signers: dict[str, PrivateKey] = {}
    for prefix in config.sign_on_behalf:
        path = enterprise_key_path(config, prefix)
        try:
            signers[name_key(prefix)] = load_private_key(path.read_bytes())
        except OSError as exc:
            raise ConfigError(
                f"sign_on_behalf: no key for {prefix} at {path}: {exc.strerror}"
            ) from None
        except TrustError as exc:
            raise ConfigError(f"sign_on_behalf: key for {prefix} at {path}: {exc}") from None
    return signers


def _problem(report: SignatureReport) -> str:
    reason = report.reason
    return reason if reason.startswith("HS_SIGNATURE") else f"HS_SIGNATURE {report.index}: {reason}"


class SigningPolicy:
    """Signs (for the configured enterprises) and checks records before they are stored.

    ``fetch`` finds the signers' certificates and keys; ``signers`` maps a
    prefix key (``name_key("88.118.8")``) to the key the node signs that
    enterprise's handles with; ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        signers: Mapping[str, PrivateKey] | None = None,
        trust_anchor: PublicKey | None = None,
        signature_days: int = 365,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fetch = fetch
        self.signers = dict(signers or {})
        self.trust_anchor = trust_anchor
        self.validity = signature_days * DAY
        self.clock = clock

    def signer_key(self, handle: str) -> PrivateKey | None:
        """The key the node signs ``handle`` with, if its enterprise asked for that."""
        if name_key(handle).startswith(_NA_KEY):
            return None
        return self.signers.get(name_key(handle.partition("/")[0]))

    async def prepare(self, handle: str, values: Sequence[HandleValue]) -> list[HandleValue] | None:
        """The values to store for ``handle`` instead of ``values``, or None to store them as
        given; :class:`SignatureRejected` when a signature does not verify."""
        key = self.signer_key(handle)
        final = list(values)
        if key is not None:
            final = await self._sign(handle, final, key)
        elif not has_signature(final):
            return None
        await self.check(handle, final)
        return final if key is not None else None

    async def check(self, handle: str, values: Sequence[HandleValue]) -> None:
        """Raise :class:`SignatureRejected` unless every HS_SIGNATURE of ``values`` verifies."""
        pending = name_key(handle)

        async def fetch(name: str) -> list[HandleValue] | None:
            return list(values) if name_key(name) == pending else await self.fetch(name)

        report = await verify_record(
            handle, values, fetch=fetch, trust_anchor=self.trust_anchor or NO_ANCHOR,
            now=int(self.clock()),
        )
        bad = [s for s in report.signatures if s.status is Status.INVALID]
        if bad:
            raise SignatureRejected("; ".join(_problem(s) for s in bad))

    async def _sign(
        self, handle: str, values: list[HandleValue], key: PrivateKey
    ) -> list[HandleValue]:
        signer = await self.signer_ref(handle.partition("/")[0], key)
        mine = {
            s.index for s in signed_values(handle, values, TYPE_HS_SIGNATURE)
            if ValueRef.parse(s.claims.iss).same(signer)
        }
        kept = [v for v in values if v.index not in mine]
        now = int(self.clock())
        signature = sign_record(
            handle, kept, signer.handle, signer.index, key, now, now + self.validity,
            index=min(mine) if mine else None, chain=await chain_hint(self.fetch, str(signer)),
        )
        return sorted([*kept, signature], key=lambda v: v.index)

    async def signer_ref(self, prefix: str, key: PrivateKey) -> ValueRef:
        """The reference ``key`` is known by on ``0.NA/<prefix>``."""
        holder = prefix_handle(prefix)
        values = await self.fetch(holder) or []
        public = key.public_key()
        for cert in signed_values(holder, values, TYPE_HS_CERT):
            if cert.claims.public_key is not None and same_key(cert.claims.public_key, public):
                return ValueRef.parse(cert.claims.sub)
        for value in values:
            if name_key(value.type) != TYPE_HS_PUBKEY:
                continue
            try:
                if same_key(hs_pubkey_to_public_key(value.data), public):
                    return ValueRef(holder, value.index)
            except TrustError:
                continue
        raise SigningUnavailable(
            f"cannot sign for {prefix}: no HS_CERT or HS_PUBKEY on {holder} holds its key"
        )

