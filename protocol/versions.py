"""Protocol version comparison and negotiation, as CNRI ``AbstractMessage`` does it."""

from __future__ import annotations

from protocol.constants import PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION


def at_least(major: int, minor: int, want_major: int, want_minor: int) -> bool:
    """``hasEqualOrGreaterVersion``: is ``major.minor`` >= ``want_major.want_minor``?

    Version 5.x (sent by mistake by very old clients) only compares with 5.x.
    """
    if major == 5:
        return want_major == 5 and minor >= want_minor
    if want_major == 5:
        return True
    if major != want_major:
        return major > want_major
    return minor >= want_minor


def negotiate(suggest_major: int, suggest_minor: int) -> tuple[int, int]:
    """The version of a response to a request that suggested ``suggest_major.minor``:
    the suggestion, capped at our own version (``setSupportedProtocolVersion``)."""
    if at_least(suggest_major, suggest_minor, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION):
        return PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION
    return suggest_major, suggest_minor
