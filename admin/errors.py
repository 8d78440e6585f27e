"""The one line the CLI prints for a refused registry operation, always with its reason.

Registry errors (:mod:`registry.errors`) often carry only the name they are
about (``HandleAlreadyExists("88.118.8/TV-0002")``): their class is the
reason.  :func:`store_error_line` puts the two together, so ``idnode handle
create`` on an existing handle says ``88.118.8/TV-0002 already exists``
rather than just the name.
"""

from __future__ import annotations

from registry.errors import (
    AlreadyExists,
    ConcurrentModification,
    EnterpriseSuspended,
    HandleAlreadyExists,
    HandleNotFound,
    InvalidArgument,
    InvalidHandle,
    InvalidValue,
    NotFound,
    QuotaExceeded,
    StoreError,
    ValueAlreadyExists,
    ValuesNotFound,
)

#: the reason each registry error stands for, most specific class first
_REASONS: tuple[tuple[type[StoreError], str], ...] = (
    (HandleAlreadyExists, "already exists"),
    (HandleNotFound, "not found"),
    (AlreadyExists, "already exists"),
    (NotFound, "not found"),
    (InvalidHandle, "is not a valid handle name"),
    (ValuesNotFound, "has no value at that index"),
    (ValueAlreadyExists, "already has a value at that index"),
    (InvalidValue, "has an invalid value"),
    (ConcurrentModification, "was changed by someone else meanwhile; run the command again"),
    (QuotaExceeded, "is refused: its enterprise's quota is used up"),
    (EnterpriseSuspended, "is refused: its enterprise is suspended"),
    (InvalidArgument, "is not accepted"),
)


def reason_of(exc: StoreError) -> str:
    """What kind of refusal ``exc`` is, in words."""
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return "is refused by the registry"


def store_error_line(exc: StoreError) -> str:
    """``exc`` as one line that names the reason, without saying it twice.

    A message that is only a name (no space) gets the reason after it; an
    empty one becomes ``refused: <reason>``; a message that is already a
    sentence is kept as it is.
    """
    message = str(exc).strip()
    if not message:
        return f"refused: the request {reason_of(exc)}"
    if " " not in message:
        return f"{message} {reason_of(exc)}"
    return message
