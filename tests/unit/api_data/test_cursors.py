"""Listing keys, the newest-first merge of index windows, and signed cursors (domain/cursors.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.cursors import (
    CursorError,
    Window,
    boundary_of,
    context_of,
    decode_cursor,
    encode_cursor,
    listing_key,
    merge_newest_first,
    ms_bound,
    ms_key,
    time_bound,
)

KEY = b"k" * 32
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda at: at.replace(microsecond=0) if at.microsecond % 3 == 0 else at)  # both ISO forms
ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=8)


@given(st.lists(st.tuples(instants, ids), min_size=2, max_size=30, unique=True))
def test_listing_keys_sort_by_time_then_id(pairs: list[tuple[datetime, str]]) -> None:
    by_key = sorted(pairs, key=lambda pair: listing_key(*pair))
    assert by_key == sorted(pairs)


@given(instants, instants, ids)
def test_a_time_bound_separates_earlier_keys_from_the_rest(
    bound: datetime, at: datetime, record: str
) -> None:
    assert (listing_key(at, record) < time_bound(bound)) == (at < bound)


def test_keys_of_other_offsets_and_naive_times_are_utc() -> None:
    plus_three = T0.astimezone(timezone(timedelta(hours=3)))
    assert listing_key(plus_three, "x") == listing_key(T0, "x") == listing_key(T0.replace(tzinfo=None), "x")
    assert ms_key(5, "t") == "0000000000005#t" and ms_bound(5) < ms_key(5, "t") < ms_bound(6)


# --- merging ----------------------------------------------------------------------------------------


def _read(stream: list[str], below: str | None, budget: int) -> Window[str]:
    """What an index query gives: up to ``budget`` keys below ``below``, newest first."""
    rest = [k for k in stream if below is None or k < below]
    taken = rest[:budget]
    more = len(rest) > budget
    return Window(tuple((k, k) for k in taken), taken[-1] if more and taken else None)


@settings(max_examples=200)
@given(
    st.lists(st.lists(st.integers(0, 500), max_size=25, unique=True), min_size=1, max_size=4),
    st.integers(1, 7),
    st.data(),
)
def test_paging_merged_windows_returns_everything_once_newest_first(
    streams: list[list[int]], limit: int, data: st.DataObject
) -> None:
    keyed = [
        sorted((f"{n:04d}#{index}" for n in stream), reverse=True) for index, stream in enumerate(streams)
    ]
    expected = sorted((k for stream in keyed for k in stream), reverse=True)
    seen: list[str] = []
    boundary: str | None = None
    for _ in range(len(expected) + 2 * len(streams) + 5):
        windows = [_read(s, boundary, data.draw(st.integers(1, limit + 2))) for s in keyed]
        page = merge_newest_first(windows, limit)
        assert len(page.items) <= limit
        assert all(boundary is None or key < boundary for key in page.items)
        seen += page.items
        if page.boundary is None:
            break
        assert boundary is None or page.boundary < boundary  # always moves on
        boundary = page.boundary
    assert seen == expected


def test_a_window_that_stopped_early_holds_back_older_items_of_the_others() -> None:
    slow = Window((("0009#a", "a9"),), "0009#a")  # read one, more below
    fast = Window((("0010#b", "b10"), ("0005#b", "b5"), ("0001#b", "b1")), None)
    page = merge_newest_first([slow, fast], 10)
    assert page.items == ("b10", "a9") and page.boundary == "0009#a"


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        merge_newest_first([], 0)


# --- cursors ----------------------------------------------------------------------------------------


def test_a_cursor_round_trips_in_its_context() -> None:
    context = context_of("p1", "messages", None, "447700900123")
    token = encode_cursor({"b": "2026-11-22T12:00:00+00:00#abc"}, key=KEY, context=context)
    assert boundary_of(decode_cursor(token, key=KEY, context=context)) == "2026-11-22T12:00:00+00:00#abc"
    assert "abc" not in token.split(".")[1]


@pytest.mark.parametrize(
    "context",
    [
        context_of("p2", "messages", None, "447700900123"),  # another partner
        context_of("p1", "messages", None, "447700900124"),  # other filters
        context_of("p1", "statement", None, "447700900123"),  # another listing
    ],
)
def test_a_cursor_is_refused_outside_its_context(context: str) -> None:
    token = encode_cursor({"b": "x"}, key=KEY, context=context_of("p1", "messages", None, "447700900123"))
    with pytest.raises(CursorError):
        decode_cursor(token, key=KEY, context=context)


def test_an_altered_or_foreign_cursor_is_refused() -> None:
    context = context_of("p1")
    token = encode_cursor({"b": "2026#x"}, key=KEY, context=context)
    payload, tag = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"b": "2099#x"}).encode()).rstrip(b"=").decode()
    for bad in (
        f"{forged}.{tag}",
        f"{payload}.{tag[:-1]}A" if tag[-1] != "A" else f"{payload}.{tag[:-1]}B",
        encode_cursor({"b": "2026#x"}, key=b"another-key-0123456789", context=context),
        "",
        "nodot",
        f"{payload}.{tag}.{tag}",
        "a" * 2000,
        "é.é",
    ):
        with pytest.raises(CursorError):
            decode_cursor(bad, key=KEY, context=context)


@given(st.text(max_size=200))
def test_garbage_is_a_cursor_error_never_anything_else(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text, key=KEY, context="c")


@pytest.mark.parametrize("values", [{}, {"b": ""}, {"b": 5}, {"b": "x" * 301}])
def test_a_signed_cursor_without_a_proper_boundary_is_refused(values: dict[str, object]) -> None:
    with pytest.raises(CursorError):
        boundary_of(decode_cursor(encode_cursor(values, key=KEY, context="c"), key=KEY, context="c"))


def test_an_empty_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="key"):
        encode_cursor({"b": "x"}, key=b"", context="c")
