"""What the answer cache keeps is out of the cyclic collector's sight (issue 17), and
still the same answer: equal values, freed when dropped, re-tracked when a container
is put into its renders by other means."""

from __future__ import annotations

import gc
import sys
from enum import Enum

from protocol.record_image import make_image
from protocol.values import HandleValue, ValueReference
from resolver.core.cache import Answer, CachedImage, Kind, LocalCache, answer_bytes
from resolver.core.untracked import untrack

NOW = 1_800_000_000.0


def tracked_within(root: object) -> list[object]:
    """Every object reachable from ``root`` that the cyclic collector tracks (classes
    and enum members, which live as long as their module, not counted)."""
    found: list[object] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, Enum)):
            continue
        seen.add(id(obj))
        if gc.is_tracked(obj):
            found.append(obj)
        stack.extend(gc.get_referents(obj))
    return found


def record() -> tuple[HandleValue, ...]:
    return (
        HandleValue(1, "URL", b"https://example.test/a"),
        HandleValue(2, "HS_VLIST", b"x", references=(ValueReference("0.NA/88", 300),)),
        HandleValue(100, "HS_ADMIN", b"admin", ttl=60, public_write=True),
    )


def test_a_cached_answer_holds_no_tracked_object() -> None:
    answer = Answer(Kind.FOUND, record(), NOW + 10, chain=("a:1", "b:2"))
    assert tracked_within(answer)  # a new answer is tracked
    cache = LocalCache(10, clock=lambda: NOW)
    cache.put("k", answer)
    assert tracked_within(answer) == []
    assert cache.keep_render("k", answer, ("json", "88/x"), (b"body", b"etag"), 10)
    assert tracked_within(answer) == []
    assert cache.get("k") is answer and answer.values == record()  # the same answer


def test_untracked_values_are_still_freed_when_the_cache_drops_them() -> None:
    values = record()
    first = values[0]
    held = sys.getrefcount(first)  # by the tuple, this function and the call
    cache = LocalCache(10, clock=lambda: NOW)
    cache.put("k", Answer(Kind.FOUND, values, NOW + 10))
    assert not gc.is_tracked(values)
    del values
    cache.drop(["k"])  # the answer and its values tuple go by reference counting alone
    assert sys.getrefcount(first) == held - 1


def test_a_container_put_into_untracked_renders_by_other_means_is_tracked_again() -> None:
    answer = Answer(Kind.FOUND, record(), NOW + 10)
    LocalCache(10, clock=lambda: NOW).put("k", answer)
    assert not gc.is_tracked(answer.renders)
    answer.renders["other"] = [answer]  # a cycle: the collector must see it
    assert gc.is_tracked(answer.renders)


def test_objects_the_collector_does_not_track_are_left_alone() -> None:
    things: list[object] = [b"bytes", "text", 12, 1.5, None, (), (1, "a")]
    untrack(things)  # no crash: the C function only ever sees tracked objects
    assert not any(gc.is_tracked(t) for t in things[:-1])


def test_a_cached_record_image_and_the_values_it_decodes_hold_no_tracked_object() -> None:
    blob = make_image(record())
    image = CachedImage.read(blob)
    assert isinstance(image, CachedImage)
    answer = Answer(Kind.FOUND, image, NOW + 10)
    cache = LocalCache(10, clock=lambda: NOW)
    cache.put("k", answer)
    assert tracked_within(answer) == []  # the image itself, nothing decoded yet
    assert image._decoded is None
    assert tuple(answer.values) == record()  # decoded now, and untracked as decoded
    assert tracked_within(answer) == []
    # charged its bytes and at least what its values take once decoded
    decoded = answer_bytes("k", Answer(Kind.FOUND, record(), NOW + 10))
    assert answer_bytes("k", answer) >= decoded + len(image.wire)
