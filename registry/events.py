"""Product lifecycle events: the ``TRACE.EVENT`` value format.

A traceable record (see :mod:`registry.templates`) carries its history as
``TRACE.EVENT`` values, one per event, from index :data:`FIRST_EVENT_INDEX`
up.  The value data is one compact JSON object (UTF-8)::

    {"kind": "shipped", "time": "2025-03-14T08:30:00Z",
     "actor": "88.118.8/ORG-LOGISTICS-02", "place": "Qingdao port, CN",
     "note": "container MSKU 123456-7"}

- ``kind``: one of :data:`EVENT_KINDS` (produced, inspected, shipped, sold,
  installed, repaired, recalled, recycled);
- ``time``: ISO 8601 in UTC with a ``Z`` suffix, whole seconds;
- ``actor``: the handle of the party that acted (a ``PREFIX/SUFFIX`` name,
  possibly on another node);
- ``place``: free text (site, city, country), may be empty;
- ``note``: free text, may be empty.

Events are **append-only**: history is never rewritten.  A client adds an
event as a new value at a fresh index (:func:`next_event_index`); the service
layer refuses to modify or remove an existing ``TRACE.EVENT`` value, using
:func:`check_append_only`.  A correction is a further event whose note says
what it corrects.  :func:`events_of` returns the history in time order, equal
times in index order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from protocol.values import HandleValue
from registry.errors import InvalidHandle, InvalidValue
from registry.names import split_handle

EVENT_TYPE = "TRACE.EVENT"
EVENT_KINDS = (
    "produced",
    "inspected",
    "shipped",
    "sold",
    "installed",
    "repaired",
    "recalled",
    "recycled",
)
FIRST_EVENT_INDEX = 1000
MAX_PLACE_LENGTH = 200
MAX_NOTE_LENGTH = 1000


class EventError(InvalidValue):
    """An event that does not follow the format, or a change that rewrites history."""


@dataclass(frozen=True, slots=True)
class Event:
    """One lifecycle event, decoded from the ``TRACE.EVENT`` value at ``index``."""

    index: int
    kind: str
    time: datetime
    actor: str
    place: str
    note: str


def format_time(time: datetime) -> str:
    """``time`` (timezone-aware) as ISO 8601 UTC with a ``Z`` suffix, whole seconds."""
    if time.tzinfo is None:
        raise EventError(f"event time {time.isoformat()} has no timezone")
    return time.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def parse_time(text: object) -> datetime:
    """An ISO 8601 time with an offset (``Z`` or ``+08:00``...), converted to UTC."""
    try:
        time = datetime.fromisoformat(text if isinstance(text, str) else "")
    except ValueError:
        raise EventError(f"event time {text!r} is not ISO 8601") from None
    if time.tzinfo is None:
        raise EventError(f"event time {text!r} has no timezone")
    return time.astimezone(UTC)


#: event actors that are handle names (bounded: cleared when full): the events of a bulk
#: write name a few parties again and again
_GOOD_ACTORS: set[str] = set()
_ACTORS_KEPT = 4096


def _checked(kind: object, actor: object, place: object, note: object) -> tuple[str, str]:
    """Check the non-time fields; returns ``(place, note)`` as strings."""
    if kind not in EVENT_KINDS:
        raise EventError(f"event kind {kind!r} is not one of {list(EVENT_KINDS)}")
    if not isinstance(actor, str):
        raise EventError(f"event actor {actor!r} is not a handle")
    if actor not in _GOOD_ACTORS:
        try:
            split_handle(actor)
        except InvalidHandle as exc:
            raise EventError(f"event actor: {exc}") from None
        if len(_GOOD_ACTORS) >= _ACTORS_KEPT:
            _GOOD_ACTORS.clear()
        _GOOD_ACTORS.add(actor)
    if not isinstance(place, str) or len(place) > MAX_PLACE_LENGTH:
        raise EventError(f"event place must be text of at most {MAX_PLACE_LENGTH} characters")
    if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
        raise EventError(f"event note must be text of at most {MAX_NOTE_LENGTH} characters")
    return place, note


def make_event_value(
    index: int,
    kind: str,
    actor: str,
    place: str,
    time: datetime | str,
    note: str = "",
) -> HandleValue:
    """A ``TRACE.EVENT`` value; ``time`` is an aware datetime or ISO 8601 text with offset."""
    place, note = _checked(kind, actor, place, note)
    stamp = format_time(parse_time(time) if isinstance(time, str) else time)
    payload = {"kind": kind, "time": stamp, "actor": actor, "place": place, "note": note}
    return HandleValue(index=index, type=EVENT_TYPE, data=orjson.dumps(payload))


def json_object(value: HandleValue, label: str, error: type[InvalidValue]) -> dict[str, Any]:
    """The JSON object ``value`` holds, else ``error`` naming ``label`` and the index."""
    try:
        payload = orjson.loads(value.data)
    except orjson.JSONDecodeError:
        raise error(f"{label} at index {value.index} is not JSON") from None
    if not isinstance(payload, dict):
        raise error(f"{label} at index {value.index} is not a JSON object")
    return payload


def parse_event(value: HandleValue) -> Event:
    """The event a ``TRACE.EVENT`` value holds; :class:`EventError` names the bad index."""
    payload, place, note, time = _fields(value)
    return Event(value.index, payload["kind"], time, payload["actor"], place, note)


def check_event(value: HandleValue) -> None:
    """Raise what :func:`parse_event` raises for ``value``, without making the
    :class:`Event` (a bulk write checks every event of every record it stores)."""
    _fields(value)


def _fields(value: HandleValue) -> tuple[dict[str, Any], str, str, datetime]:
    """The checked fields of a ``TRACE.EVENT`` value: its JSON object, place, note, time."""
    payload = json_object(value, "event", EventError)
    try:
        place, note = _checked(
            payload.get("kind"),
            payload.get("actor"),
            payload.get("place", ""),
            payload.get("note", ""),
        )
        time = parse_time(payload.get("time"))
    except EventError as exc:
        raise EventError(f"event at index {value.index}: {exc}") from None
    return payload, place, note, time


def events_of(values: Iterable[HandleValue]) -> list[Event]:
    """The events among ``values``, oldest first; equal times in index order."""
    events = [parse_event(v) for v in values if v.type == EVENT_TYPE]
    events.sort(key=lambda e: (e.time, e.index))
    return events


def next_event_index(values: Iterable[HandleValue]) -> int:
    """The index a new event gets: after every value at or above :data:`FIRST_EVENT_INDEX`."""
    above = [v.index + 1 for v in values if v.index >= FIRST_EVENT_INDEX]
    return max(above, default=FIRST_EVENT_INDEX)


def check_append_only(old: Iterable[HandleValue], new: Iterable[HandleValue]) -> None:
    """Raise :class:`EventError` unless ``new`` keeps every event of ``old`` unchanged.

    ``old`` is the stored record, ``new`` the record a write would leave; new
    events may be added, none may be removed or altered (type, data or index).
    """
    kept = {v.index: v for v in new}
    for value in old:
        if value.type != EVENT_TYPE:
            continue
        after = kept.get(value.index)
        if after is None or after.type != EVENT_TYPE or after.data != value.data:
            change = "removed" if after is None else "modified"
            raise EventError(
                f"event at index {value.index} cannot be {change} (events are append-only)"
            )
