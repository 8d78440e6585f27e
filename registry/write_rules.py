"""The rules every stored record must satisfy, applied by the store inside each write.

:class:`registry.store.HandleStore` computes the record a write leaves (the
after-record) inside the write's transaction and passes it through
:meth:`WriteRules.admit` before storing it: at most ``max_values`` values (a
Handle client cannot decode more than :data:`protocol.constants.MAX_HANDLE_VALUES`),
and the signing policy of :mod:`registry.signing_policy` (signatures verified,
records signed on an enterprise's behalf).  Bulk imports pass every row
through the same method.  No writer (the resolution service, the CLI, the
importer) runs these rules itself, so none can skip one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from protocol.constants import MAX_HANDLE_VALUES
from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.errors import InvalidValue
from registry.signing_policy import (
    SigningPolicy,
    has_signature,
    load_signers,
    load_trust_anchor,
)
from registry.trust.keys import PrivateKey, PublicKey
from registry.trust.verify import Fetch


@dataclass(frozen=True)
class WriteRules:
    """A node's write rules: ``max_values`` per record; ``hosted_only``: new handles only
    under a prefix registered here (:meth:`registry.admission.Ownership.check_hosted`,
    always so for a node); ``signers`` (prefix key -> the
    enterprise key the node signs with), ``trust_anchor`` and ``signature_days`` for the
    signing policy."""

    max_values: int = MAX_HANDLE_VALUES
    hosted_only: bool = False
    signers: Mapping[str, PrivateKey] = field(default_factory=dict)
    trust_anchor: PublicKey | None = None
    signature_days: int = 365

    @classmethod
    def from_config(
        cls, config: NodeConfig, *, signers: Mapping[str, PrivateKey] | None = None
    ) -> WriteRules:
        """The rules of the node ``config`` describes (``max_values_per_handle``,
        ``sign_on_behalf``, ``trust_anchor_path``, ``signature_days``; hosted prefixes
        only), plus the keys in ``signers`` (prefix key -> key, e.g. an enterprise's own
        key given to ``idnode sign``); ConfigError when a key cannot be read."""
        return cls(
            max_values=min(config.max_values_per_handle, MAX_HANDLE_VALUES),
            hosted_only=True,
            signers={**load_signers(config), **(signers or {})},
            trust_anchor=load_trust_anchor(config),
            signature_days=config.signature_days,
        )

    def signing(self, fetch: Fetch) -> SigningPolicy:
        """The signing policy, finding certificates and keys through ``fetch``."""
        return SigningPolicy(
            fetch, signers=self.signers, trust_anchor=self.trust_anchor,
            signature_days=self.signature_days,
        )

    async def admit(
        self, handle: str, values: Sequence[HandleValue], fetch: Fetch
    ) -> list[HandleValue]:
        """The values to store as ``handle``'s record (re-signed where the node signs);
        :class:`InvalidValue` (or :class:`SignatureRejected`) when a rule refuses them."""
        admitted = self.admit_unsigned(handle, values)
        if admitted is not None:
            return admitted
        signed = await self.signing(fetch).prepare(handle, values)
        return list(values) if signed is None else signed

    def admit_unsigned(
        self, handle: str, values: Sequence[HandleValue]
    ) -> list[HandleValue] | None:
        """:meth:`admit` without waiting when the signing policy has nothing to do (no
        signer, no HS_SIGNATURE: a bulk import's every record, usually): ``values`` as
        they are, in their order (a new list); None when it has (then ask :meth:`admit`)."""
        if len(values) > self.max_values:
            raise InvalidValue(
                f"{handle}: {len(values)} values, more than the {self.max_values} a record may hold"
            )
        if not self.signers and not has_signature(values):
            return list(values)  # what the signing policy does: nothing to sign or verify
        return None


DEFAULT_RULES = WriteRules()
