"""The handle <-> DNS name rule of resolver.dns.names: examples, errors, round trips."""

from __future__ import annotations

import dns.name
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.names import name_key
from resolver.dns.names import (
    DnsNameError,
    NameNotInZone,
    handle_to_name,
    is_empty_non_terminal,
    name_to_handle,
)

ZONE = "id.example."


@pytest.mark.parametrize(
    ("handle", "name"),
    [
        ("88.118.8/TV-0001", "tv-0001._.8.118.88.id.example."),
        ("0.NA/88.118", "hx--ha4c4mjrha._.na.0.id.example."),
        ("88.118.8/tv_0001.A/B", "hx--or3f6mbqgays4qjpii._.8.118.88.id.example."),
        ("88.118.8/Ünïcode_ID #1", "hx--yoog5q5pmnxwizk7jfccaizr._.8.118.88.id.example."),
        ("88.118.8/xn--abc", "hx--pbxc2llbmjrq._.8.118.88.id.example."),
        ("88.118.8/-a", "hx--fvqq._.8.118.88.id.example."),
    ],
)
def test_examples(handle: str, name: str) -> None:
    assert handle_to_name(handle, ZONE) == dns.name.from_text(name)
    assert name_key(name_to_handle(name, ZONE)) == name_key(handle)


def test_encoded_suffix_keeps_exact_case_and_survives_dns_case_folding() -> None:
    name = handle_to_name("88.118.8/tv_0001.A/B", "id.example")
    assert name_to_handle(name.to_text().upper(), ZONE) == "88.118.8/tv_0001.A/B"


def test_long_suffix_is_split_into_labels() -> None:
    handle = "88.118.8/" + "ü" * 60
    name = handle_to_name(handle, ZONE)
    suffix_labels = name.labels[: name.labels.index(b"_")]
    assert len(suffix_labels) > 1
    assert all(len(label) <= 63 for label in name.labels)
    assert name_to_handle(name, ZONE) == handle


@pytest.mark.parametrize(
    "handle",
    ["no-slash", "/suffix", "88.118.8/", "88..8/x", "88.118.8/" + "ü" * 120, "88.118.8/\ud800"],
)
def test_handles_without_a_name(handle: str) -> None:
    with pytest.raises(DnsNameError):
        handle_to_name(handle, ZONE)


@pytest.mark.parametrize(
    "name",
    [
        "id.example.",  # the apex
        "8.118.88.id.example.",  # no separator
        "_.8.118.88.id.example.",  # no suffix
        "tv-0001._.id.example.",  # no prefix
        "a_b._.8.118.88.id.example.",  # neither plain nor encoded
        "hx--1._.8.118.88.id.example.",  # not base32
        "hx--74._.8.118.88.id.example.",  # not UTF-8
        "hx--mfrgg._.8.118.88.id.example.",  # "abc" has a plain, canonical name
        "tv-0001.tv-0002._.8.118.88.id.example.",  # two plain suffix labels
    ],
)
def test_names_without_a_handle(name: str) -> None:
    with pytest.raises(DnsNameError):
        name_to_handle(name, ZONE)


def test_names_outside_the_zone() -> None:
    with pytest.raises(NameNotInZone):
        name_to_handle("tv-0001._.8.118.88.other.example.", ZONE)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("8.118.88.id.example.", True),
        ("_.8.118.88.id.example.", True),
        ("54f66c7._.8.118.88.id.example.", True),  # tail of a multi-label suffix
        ("id.example.", False),
        ("_.id.example.", False),
        ("x.tv-0001._.8.118.88.id.example.", False),
        ("a_b.8.118.88.id.example.", False),
    ],
)
def test_empty_non_terminals(name: str, expected: bool) -> None:
    assert is_empty_non_terminal(name, ZONE) is expected


segment = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="./"), min_size=1, max_size=8
)
prefixes = st.lists(segment, min_size=1, max_size=4).map(".".join)
suffixes = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)


@given(prefixes, suffixes)
def test_handle_name_handle_round_trip(prefix: str, suffix: str) -> None:
    handle = f"{prefix}/{suffix}"
    try:
        name = handle_to_name(handle, ZONE)
    except DnsNameError:
        return  # only for names too long for DNS
    back = name_to_handle(name, ZONE)
    assert name_key(back) == name_key(handle)
    for got, given_segment in zip(_segments(back), _segments(handle), strict=True):
        assert got == given_segment or (given_segment.isascii() and got == given_segment.lower())
    assert handle_to_name(back, ZONE) == name
    assert name_to_handle(name.to_text().upper(), ZONE) == back


def _segments(handle: str) -> list[str]:
    prefix, _, suffix = handle.partition("/")
    return [*prefix.split("."), suffix]


@given(st.text(st.sampled_from("abcz27-_x"), min_size=1, max_size=30))
def test_every_accepted_name_is_canonical(label: str) -> None:
    name = f"{label}._.8.118.88.{ZONE}"
    try:
        handle = name_to_handle(name, ZONE)
    except DnsNameError:
        return
    assert handle_to_name(handle, ZONE) == dns.name.from_text(name)
