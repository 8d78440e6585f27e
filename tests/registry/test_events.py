"""Lifecycle events: the TRACE.EVENT format, ordering, and append-only checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocol.values import HandleValue
from registry.events import (
    EVENT_KINDS,
    EVENT_TYPE,
    FIRST_EVENT_INDEX,
    Event,
    EventError,
    check_append_only,
    check_event,
    events_of,
    make_event_value,
    next_event_index,
    parse_event,
)

MAKER = "0.NA/88.118.8"


def test_event_value_is_compact_json_in_utc() -> None:
    value = make_event_value(1000, "shipped", "88.118.8/ORG-LOGISTICS", "Qingdao port, CN",
                             "2025-03-14T16:30:00+08:00", "container MSKU 1234567")
    assert (value.index, value.type) == (1000, EVENT_TYPE)
    assert json.loads(value.data) == {
        "kind": "shipped", "time": "2025-03-14T08:30:00Z", "actor": "88.118.8/ORG-LOGISTICS",
        "place": "Qingdao port, CN", "note": "container MSKU 1234567"}
    aware = datetime(2025, 3, 14, 8, 30, 5, 999, tzinfo=UTC)
    assert json.loads(make_event_value(1001, "sold", MAKER, "", aware).data)["time"] == (
        "2025-03-14T08:30:05Z")


def test_parse_event_reads_back_what_was_made() -> None:
    value = make_event_value(1003, "repaired", MAKER, "Jinan, CN", "2025-01-02T03:04:05Z", "seal")
    assert parse_event(value) == Event(1003, "repaired", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
                                       MAKER, "Jinan, CN", "seal")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("exploded", MAKER, "", "2025-01-01T00:00:00Z"), "kind 'exploded' is not one of"),
        (("sold", "no-slash", "", "2025-01-01T00:00:00Z"), "event actor: handle name must be"),
        (("sold", MAKER, "", "yesterday"), "event time 'yesterday' is not ISO 8601"),
        (("sold", MAKER, "", "2025-01-01T00:00:00"), "has no timezone"),
        (("sold", MAKER, "", datetime(2025, 1, 1)), "has no timezone"),
        (("sold", MAKER, "x" * 201, "2025-01-01T00:00:00Z"), "place must be text"),
    ],
)
def test_bad_events_are_refused(args: tuple[str, str, str, object], says: str) -> None:
    kind, actor, place, time = args
    with pytest.raises(EventError, match=says):
        make_event_value(1000, kind, actor, place, time)  # type: ignore[arg-type]


def test_events_of_sorts_by_time_then_index_and_skips_other_values() -> None:
    values = [
        make_event_value(1002, "sold", MAKER, "", "2025-02-01T10:00:00Z"),
        HandleValue(1, "URL", b"http://127.0.0.1:8000/trace/88.118.8/TV-0000001"),
        make_event_value(1001, "inspected", MAKER, "", "2025-01-01T12:00:00+02:00"),  # 10:00Z
        make_event_value(1000, "produced", MAKER, "", "2025-01-01T10:00:00Z"),
        make_event_value(1003, "recalled", MAKER, "", "2025-01-01T10:00:00Z"),
    ]
    assert [(e.index, e.kind) for e in events_of(values)] == [
        (1000, "produced"), (1001, "inspected"), (1003, "recalled"), (1002, "sold")]
    assert events_of([]) == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not json", "event at index 1005 is not JSON"),
        (b"[]", "event at index 1005 is not a JSON object"),
        (b'{"kind":"sold","actor":"0.NA/88.118.8"}', "event at index 1005: event time None"),
        (b'{"kind":"lost","time":"2025-01-01T00:00:00Z","actor":"a/b"}', "kind 'lost'"),
    ],
)
def test_a_malformed_stored_event_names_its_index(data: bytes, says: str) -> None:
    with pytest.raises(EventError, match=says):
        events_of([HandleValue(1005, EVENT_TYPE, data)])
    with pytest.raises(EventError, match=says):  # the bulk write's check says the same
        check_event(HandleValue(1005, EVENT_TYPE, data))


def test_check_event_refuses_what_parse_event_refuses() -> None:
    good = make_event_value(1000, "sold", MAKER, "", "2025-01-01T00:00:00Z")
    check_event(good)
    check_event(good)  # its actor is now one known to be a handle
    for data in (
        b'{"kind":"sold","time":"2025-01-01T00:00:00Z","actor":"no-slash"}',
        b'{"kind":"sold","time":"2025-01-01T00:00:00Z","actor":"0.NA/88.118.8\\u0000"}',
        b'{"kind":"sold","time":"2025-01-01T00:00:00Z","actor":7}',
        b'{"kind":"sold","time":"2025-01-01T00:00:00Z","actor":"0.NA/88.118.8","note":3}',
        b'{"kind":"sold","time":"2025-01-01","actor":"0.NA/88.118.8"}',
    ):
        value = HandleValue(1001, EVENT_TYPE, data)
        with pytest.raises(EventError) as parsed:
            parse_event(value)
        with pytest.raises(EventError) as checked:
            check_event(value)
        assert str(checked.value) == str(parsed.value)


def test_next_event_index_follows_the_last_event() -> None:
    assert next_event_index([HandleValue(1, "URL", b"x")]) == FIRST_EVENT_INDEX
    start = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    values = [make_event_value(FIRST_EVENT_INDEX + i, EVENT_KINDS[i], MAKER, "", start)
              for i in range(3)]
    assert next_event_index(values) == FIRST_EVENT_INDEX + 3


def test_history_may_grow_but_not_change() -> None:
    produced = make_event_value(1000, "produced", MAKER, "", "2025-01-01T08:00:00Z")
    url = HandleValue(1, "URL", b"http://127.0.0.1/a")
    old = [url, produced]
    sold = make_event_value(1001, "sold", MAKER, "", "2025-02-01T08:00:00Z")
    check_append_only(old, [HandleValue(1, "URL", b"http://127.0.0.1/b"), produced, sold])
    with pytest.raises(EventError, match="index 1000 cannot be removed"):
        check_append_only(old, [url, sold])
    edited = make_event_value(1000, "produced", MAKER, "", "2024-12-31T08:00:00Z")
    with pytest.raises(EventError, match="index 1000 cannot be modified"):
        check_append_only(old, [url, edited])
    with pytest.raises(EventError, match="index 1000 cannot be modified"):
        check_append_only(old, [url, HandleValue(1000, "URL", produced.data)])
