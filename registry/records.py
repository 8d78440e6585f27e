"""The plain, immutable data the store hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.values import HandleValue


@dataclass(frozen=True, slots=True)
class HandleRecord:
    """A handle with its values sorted by index; ``version`` counts its changes."""

    name: str
    values: tuple[HandleValue, ...]
    version: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A bulk row that was not stored: its position in the batch and why."""

    row: int
    name: str
    reason: str
    response_code: int


@dataclass(frozen=True, slots=True)
class BulkResult:
    """Outcome of one :meth:`HandleStore.bulk_put` batch.

    ``skipped`` is true when the job checkpoint shows the batch was applied by
    an earlier run (resume): nothing was written the second time.
    """

    inserted: int
    replaced: int
    rejected: tuple[Rejection, ...]
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class ImportJobState:
    """Checkpoint of a resumable import: how many source rows are done."""

    job_id: str
    source_digest: str
    rows_done: int
    status: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class PrefixInfo:
    """A prefix known to this node."""

    name: str
    parent: str | None
    kind: str
    owner: str | None
    status: str
    created: datetime


@dataclass(frozen=True, slots=True)
class EnterpriseInfo:
    """An enterprise; ``quota`` None means unlimited."""

    code: str
    name: str
    industry: str
    status: str
    quota: int | None
    created: datetime


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A key registered for an admin handle value; ``revoked`` None while valid."""

    id: int
    enterprise: str | None
    admin_handle: str
    admin_index: int
    kind: str
    created: datetime
    revoked: datetime | None


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """One version of a data template; ``schema`` is the JSON Schema text."""

    name: str
    version: int
    schema: str
    created: datetime


@dataclass(frozen=True, slots=True)
class CounterRow:
    """A usage counter for one period, prefix ("" = whole node) and metric."""

    period: datetime
    prefix: str
    metric: str
    count: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log; ``before``/``after`` are record digests."""

    seq: int
    time: datetime
    actor: str
    action: str
    handle: str | None
    before: str | None
    after: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Result of walking the audit hash chain; ``first_bad_seq`` None when intact."""

    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every row checked out."""
        return self.first_bad_seq is None


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    """An enterprise granted partner access: its code, its name and since when."""

    code: str
    name: str
    created: datetime
