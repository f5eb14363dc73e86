"""Cursors are opaque, round-trip exactly and refuse anything they did not produce."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from projections.cursors import (
    InvalidCursor,
    customer_cursor,
    read_customer_cursor,
    read_timeline_cursor,
    timeline_cursor,
)
from projections.customer_list import like_pattern


def test_customer_cursor_round_trips() -> None:
    at, cid = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC), uuid4()
    cursor = customer_cursor(at, cid)
    assert str(cid) not in cursor
    assert read_customer_cursor(cursor) == (at, cid)


def test_timeline_cursor_round_trips() -> None:
    assert read_timeline_cursor(timeline_cursor(42)) == 42


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGpzb24", timeline_cursor(3)])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        read_customer_cursor(cursor)


def test_a_customer_cursor_is_no_timeline_cursor() -> None:
    with pytest.raises(InvalidCursor):
        read_timeline_cursor(customer_cursor(datetime.now(UTC), uuid4()))


def test_like_patterns_take_wildcards_literally() -> None:
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"
