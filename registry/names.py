"""Handle names: validation, the case-insensitive lookup key, prefixes and their parents.

The Handle system compares names case-insensitively for ASCII letters only
(CNRI ``Util.upperCase``): ``a``-``z`` become ``A``-``Z`` and every other
character, non-ASCII included, is kept as it is.
"""

from __future__ import annotations

from protocol.constants import NA_HANDLE_PREFIX
from registry.errors import InvalidHandle

MAX_NAME_BYTES = 1024

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def name_key(name: str) -> str:
    """The lookup key of ``name``: ASCII letters upper-cased, nothing else changed
    (``str.upper`` does just that to ASCII text, ten times faster than ``translate``;
    a bulk import asks for over ten keys a record)."""
    return name.upper() if name.isascii() else name.translate(_ASCII_UPPER)


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as a name or type (a NUL character or an
    unpaired surrogate: PostgreSQL text holds neither), or None when it can."""
    if "\0" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (unpaired surrogate)"
    return None


def split_handle(name: str, max_bytes: int = MAX_NAME_BYTES) -> tuple[str, str]:
    """``(prefix, suffix)`` of a valid handle name of at most ``max_bytes`` UTF-8 bytes;
    raises :class:`InvalidHandle`."""
    if not name:
        raise InvalidHandle("empty handle name")
    if (problem := unstorable(name)) is not None:
        raise InvalidHandle(f"handle name {problem}")
    if len(name.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidHandle(f"handle name longer than {max_bytes} bytes")
    prefix, slash, suffix = name.partition("/")
    if not slash or not prefix or not suffix:
        raise InvalidHandle(f"handle name must be PREFIX/SUFFIX: {name!r}")
    return prefix, suffix


def prefix_handle(prefix: str) -> str:
    """The handle that describes ``prefix``: ``88.118.8`` -> ``0.NA/88.118.8``."""
    return NA_HANDLE_PREFIX + prefix


def parent_prefixes(prefix: str) -> list[str]:
    """Ancestors of a dotted prefix, nearest first: ``88.118.8`` -> ``[88.118, 88]``."""
    parts = prefix.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
