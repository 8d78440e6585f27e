"""Registry errors: each carries the Handle response code a front end answers with."""

from __future__ import annotations

from protocol.constants import (
    RC_ERROR,
    RC_HANDLE_ALREADY_EXISTS,
    RC_HANDLE_NOT_FOUND,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_HANDLE,
    RC_INVALID_VALUE,
    RC_SERVER_NOT_RESP,
    RC_VALUE_ALREADY_EXISTS,
    RC_VALUES_NOT_FOUND,
)


class StoreError(Exception):
    """Base of every registry error; ``response_code`` is the Handle RC_* code."""

    response_code: int = RC_ERROR


class HandleNotFound(StoreError):
    """The handle does not exist."""

    response_code = RC_HANDLE_NOT_FOUND


class HandleAlreadyExists(StoreError):
    """A create hit an existing handle (names compare case-insensitively)."""

    response_code = RC_HANDLE_ALREADY_EXISTS


class InvalidHandle(StoreError):
    """The name is empty, longer than 1024 bytes, or lacks ``prefix/suffix``."""

    response_code = RC_INVALID_HANDLE


class ValuesNotFound(StoreError):
    """A modify or remove named an index the handle does not have."""

    response_code = RC_VALUES_NOT_FOUND


class ValueAlreadyExists(StoreError):
    """An index is already taken, or repeated within one request."""

    response_code = RC_VALUE_ALREADY_EXISTS


class InvalidValue(StoreError):
    """A value the registry cannot store (index not positive, bad field)."""

    response_code = RC_INVALID_VALUE


class ConcurrentModification(StoreError):
    """The record's version is not the ``expected_version`` the writer read."""


class QuotaExceeded(StoreError):
    """The owning enterprise already holds as many handles as its quota allows."""

    response_code = RC_INSUFFICIENT_PERMISSIONS


class EnterpriseSuspended(StoreError):
    """The owning enterprise is suspended: its handles cannot be written."""

    response_code = RC_INSUFFICIENT_PERMISSIONS


class NotFound(StoreError):
    """A registry object other than a handle (prefix, enterprise...) is missing."""

    response_code = RC_HANDLE_NOT_FOUND


class AlreadyExists(StoreError):
    """A registry object other than a handle (prefix, enterprise...) exists already."""

    response_code = RC_HANDLE_ALREADY_EXISTS


class InvalidArgument(StoreError):
    """An argument outside the allowed set (unknown kind, status, industry...)."""


class PrefixNotHosted(StoreError):
    """A new handle under a prefix no enterprise and not the node holds here."""

    response_code = RC_SERVER_NOT_RESP
