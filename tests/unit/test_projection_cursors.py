"""Cursors are opaque, round-trip exactly and refuse anything they did not produce."""

from __future__ import annotations

import base64
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
from projections.keyset import Order, make_cursor, read_cursor


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


def test_a_cursor_of_another_list_or_order_says_which_it_pages() -> None:
    """A client mixing lists or orders is told why its cursor is refused, not only that."""
    cid = uuid4()
    default = customer_cursor(datetime(2024, 5, 1, tzinfo=UTC), cid)
    with pytest.raises(InvalidCursor, match="pages the customer list in its default order"):
        read_cursor(default, Order("NAME", "ASC"))
    by_name = make_cursor(Order("NAME", "ASC"), "张三", cid)
    assert read_cursor(by_name, Order("NAME", "ASC")) == ("张三", cid)
    with pytest.raises(InvalidCursor, match="orderBy NAME ASC, not NAME DESC"):
        read_cursor(by_name, Order("NAME", "DESC"))
    with pytest.raises(InvalidCursor, match="pages the customer list in another orderBy"):
        read_customer_cursor(by_name)
    with pytest.raises(InvalidCursor, match="pages a customer's timeline, not this list"):
        read_customer_cursor(timeline_cursor(3))
    for garbage in ("!!!", "bm90IGpzb24", "W1tdXQ"):  # not base64 JSON; `[[]]`
        with pytest.raises(InvalidCursor, match=r"^invalid cursor"):
            read_cursor(garbage, Order("UPDATED_AT", "DESC"))


@pytest.mark.parametrize("position", ["1e30", "-5", str(2**63), "1000000000000000000000000000000"])
def test_an_edited_position_outside_bigint_is_refused(position: str) -> None:
    edited = base64.urlsafe_b64encode(f'["t",{position}]'.encode()).decode().rstrip("=")
    with pytest.raises(InvalidCursor):  # never sent on to PostgreSQL (an INTERNAL error)
        read_timeline_cursor(edited)
