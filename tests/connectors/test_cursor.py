"""Poll cursors: opaque, durable, overlapping, and only moved forward when a walk of pages completes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.cursor import OVERLAP, SETTLE, CursorError, PollCursor

START = datetime(2026, 5, 1, tzinfo=UTC)


def test_no_cursor_starts_at_the_default_and_asks_with_the_overlap() -> None:
    cursor = PollCursor.start(None, default_since=START)
    assert cursor.since == START and cursor.page is None
    assert cursor.query_since == START - OVERLAP


def test_since_moves_only_when_the_walk_completes() -> None:
    cursor = PollCursor.start(None, default_since=START)
    first = cursor.advanced(START + timedelta(minutes=5), page="page-2")
    assert first.since == START and first.page == "page-2"
    second = PollCursor.start(first.encode(), default_since=START).advanced(START + timedelta(minutes=3), page=None)
    assert second.since == START + timedelta(minutes=5) and second.page is None and second.newest is None


def test_an_empty_walk_keeps_the_cursor_where_it_was() -> None:
    cursor = PollCursor(since=START + timedelta(hours=1))
    assert cursor.advanced(None, page=None).since == START + timedelta(hours=1)


def test_items_inside_the_overlap_are_remembered_across_the_walk_and_older_ones_forgotten() -> None:
    old, near, last = START, START + timedelta(minutes=9), START + timedelta(minutes=10)
    walking = PollCursor(since=START).advanced(near, page="2", items=[("o-1", old), ("o-2", near)], now=last + SETTLE)
    done = PollCursor.start(walking.encode(), default_since=START).advanced(last, page=None, items=[("o-3", last)],
                                                                           now=last + SETTLE)
    assert done.since == last
    assert done.seen_before("o-2", near) and done.seen_before("o-3", last)
    assert not done.seen_before("o-1", old)  # outside the overlap: the next poll cannot list it again
    assert not done.seen_before("o-2", last)  # changed since: read it again
    assert PollCursor.start(done.encode(), default_since=START) == done


def test_items_seen_within_seconds_of_their_update_are_not_remembered() -> None:
    """Platforms keep `updated_at` to the second: an order seen at 12:00:00.2 and changed again at 12:00:00.7 still
    says 12:00:00, so it must be read again by the next poll rather than taken as unchanged."""
    updated = START + timedelta(minutes=10)
    fresh = PollCursor(since=START).advanced(updated, page=None, items=[("o-1", updated)],
                                            now=updated + timedelta(milliseconds=200))
    assert not fresh.seen_before("o-1", updated)
    settled = PollCursor(since=START).advanced(updated, page=None, items=[("o-1", updated)],
                                              now=updated + SETTLE)
    assert settled.seen_before("o-1", updated)


def test_since_never_moves_back() -> None:
    cursor = PollCursor(since=START + timedelta(hours=1))
    assert cursor.advanced(START, page=None).since == START + timedelta(hours=1)


@pytest.mark.parametrize("text", ["not base64 !", "e30=", "eyJ2IjoyLCJzaW5jZSI6IjIwMjYifQ==", "bnVsbA=="])
def test_an_unreadable_cursor_says_what_to_do(text: str) -> None:
    with pytest.raises(CursorError, match="reset the connection's cursor"):
        PollCursor.start(text, default_since=START)


@given(since=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       page=st.one_of(st.none(), st.text(max_size=40)),
       newest=st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC))))
def test_a_cursor_survives_encoding(since: datetime, page: str | None, newest: datetime | None) -> None:
    cursor = PollCursor(since=since, page=page, newest=newest, recent=frozenset({("o-1", since)}))
    assert PollCursor.start(cursor.encode(), default_since=START) == cursor
