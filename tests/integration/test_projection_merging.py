"""Merged duplicates: the survivor answers for both and counts both customers' facts,
whatever order the two partitions deliver in; read-your-writes across a merge."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from projections.activity import order_pages, touch_pages
from projections.apply import apply_batch
from projections.handlers import PROJECTIONS
from projections.positions import applied_position
from projections.queries import (
    complaints_for,
    customers_with_complaints,
    funnel,
    get_customers,
    lifecycle_distribution,
    list_customers,
    tier_distribution,
)
from projections.schema import create_all, drop_all, reset_projection
from tests.integration.support.read_models import Conn
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

NOW = T0 + days(30)

pytestmark = pytest.mark.integration


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime = NOW) -> int:
    return apply_at(conn, envelopes, now)


class Pair:
    """A survivor and a duplicate, each with history, then merged."""

    def __init__(self, events: Events) -> None:
        self.survivor, reg_s = events.register("Sam Survivor", at=T0, email="sam@example.com")
        self.duplicate, reg_d = events.register("Sam S.", at=T0 + days(1), email="sam@work.com")
        self.survivor_side = [
            reg_s,
            events.purchase(self.survivor, 1000, at=T0 + days(2)),
            events.touch(self.survivor, "PHONE", "hi", at=T0 + days(2)),
        ]
        _, filed_s = events.complain(self.survivor, "LOW", at=T0 + days(2))
        self.survivor_side.append(filed_s)
        self.duplicate_side = [
            reg_d,
            events.purchase(self.duplicate, 19000, at=T0 + days(3)),
            events.purchase(self.duplicate, 19000, at=T0 + days(4)),
            events.touch(self.duplicate, "EMAIL", "mail", at=T0 + days(4)),
            events.touch(self.duplicate, "EMAIL", "again", at=T0 + days(5)),
        ]
        _, filed_d = events.complain(self.duplicate, "HIGH", at=T0 + days(5))
        self.duplicate_side.append(filed_d)
        merged, duplicate_merged = events.merge(self.survivor, self.duplicate, at=T0 + days(6))
        self.duplicate_side.append(merged)
        self.survivor_side.append(duplicate_merged)
        self.merge_position = max(merged["position"], duplicate_merged["position"])

    @property
    def everything(self) -> list[Envelope]:
        return self.survivor_side + self.duplicate_side


def test_the_survivor_counts_both_customers(conn: Conn) -> None:
    pair = Pair(Events())
    apply(conn, pair.everything)
    views = get_customers(conn, [pair.survivor, pair.duplicate])
    assert views[pair.duplicate] == views[pair.survivor]
    view = views[pair.survivor]
    assert (view.id, view.name, view.email) == (pair.survivor, "Sam Survivor", "sam@example.com")
    assert view.merged_ids == (pair.duplicate,)
    assert (view.purchases.count, view.purchases.total) == (3, Decimal(39000))
    assert (view.purchases.first_at, view.purchases.last_at) == (T0 + days(2), T0 + days(4))
    assert view.touches.count == 3
    assert [(c.channel, c.count) for c in view.touches.by_channel] == [("PHONE", 1), ("EMAIL", 2)]
    assert view.tier == "GOLD"
    assert view.lifecycle_stage == "AT_RISK"  # the duplicate's open HIGH complaint
    complaints = complaints_for(conn, [pair.survivor, pair.duplicate])
    assert [c.severity for c in complaints[pair.survivor]] == ["LOW", "HIGH"]
    assert complaints[pair.duplicate] == complaints[pair.survivor]

    page = list_customers(conn, None, first=10)
    assert [e.node.id for e in page.rows] == [pair.survivor] and page.total_count == 1
    assert sum(c.count for c in lifecycle_distribution(conn)) == 1
    assert sum(t.count for t in tier_distribution(conn)) == 1
    assert funnel(conn)[0].reached == 1


def test_the_duplicates_own_view_is_still_there_when_asked_for(conn: Conn) -> None:
    pair = Pair(Events())
    apply(conn, pair.everything)
    own = get_customers(conn, [pair.duplicate], follow_merges=False)[pair.duplicate]
    assert (own.id, own.merged_into, own.name) == (pair.duplicate, pair.survivor, "Sam S.")
    assert own.purchases.count == 2 and own.merged_ids == ()


ORDERS = {
    "survivor partition first": lambda p: [p.survivor_side, p.duplicate_side],
    "duplicate partition first": lambda p: [p.duplicate_side, p.survivor_side],
    "interleaved, one by one": lambda p: [
        [e] for e in itertools.chain(*itertools.zip_longest(p.duplicate_side, p.survivor_side)) if e
    ],
    "survivor far ahead, duplicate redelivered": lambda p: [
        p.survivor_side,
        p.duplicate_side[:2],
        p.duplicate_side,
        p.survivor_side,
    ],
}


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_arrival_order_of_the_two_partitions_does_not_matter(conn: Conn, order: str) -> None:
    pair = Pair(Events())
    apply(conn, pair.everything)
    expected = get_customers(conn, [pair.survivor])[pair.survivor]
    drop_all(conn)
    create_all(conn)
    conn.commit()
    for batch in ORDERS[order](pair):
        apply(conn, batch)
    assert get_customers(conn, [pair.duplicate])[pair.duplicate] == expected


def test_merges_chain_to_the_last_survivor(conn: Conn) -> None:
    events = Events()
    a, reg_a = events.register("A", at=T0)
    b, reg_b = events.register("B", at=T0)
    c, reg_c = events.register("C", at=T0)
    batch = [reg_a, reg_b, reg_c, *(events.purchase(x, 10, at=T0 + days(1)) for x in (a, b, c))]
    batch += events.merge(b, a, at=T0 + days(2)) + events.merge(c, b, at=T0 + days(3))
    apply(conn, batch)
    views = get_customers(conn, [a, b, c])
    assert {v.id for v in views.values()} == {c}
    assert views[a].purchases.count == 3 and set(views[a].merged_ids) == {a, b}
    assert list_customers(conn, None).total_count == 1


def test_a_link_whose_survivor_is_not_yet_known_hides_nobody(conn: Conn) -> None:
    events = Events()
    d, registered = events.register("D", at=T0)
    ghost = uuid4()
    merged, _ = events.merge(ghost, d, at=T0 + days(1))
    apply(conn, [registered, merged])
    assert get_customers(conn, [d])[d].id == d
    assert list_customers(conn, None).total_count == 1


# --- applied_position ------------------------------------------------------------------


def test_applied_position_of_a_customer(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    other, registered_other = events.register(at=T0)
    assert applied_position(conn, cid) == 0
    purchase = events.purchase(cid, 5, at=T0)
    apply(conn, [registered, registered_other, purchase])
    assert applied_position(conn, cid) == purchase["position"]
    assert applied_position(conn, str(other)) == registered_other["position"]
    assert applied_position(conn, uuid4()) == 0


def test_applied_position_waits_for_every_projection(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    apply(conn, [registered, events.purchase(cid, 5, at=T0)])
    reset_projection(conn, "purchases")
    conn.commit()
    assert applied_position(conn, cid) == 0
    rebuilt = [p for p in PROJECTIONS if p.name == "purchases"]
    apply_batch(conn, [registered], rebuilt, now=NOW)
    conn.commit()
    assert applied_position(conn, cid) == registered["position"]


def test_applied_position_across_a_merge_waits_for_the_duplicates_partition(conn: Conn) -> None:
    pair = Pair(Events())
    apply(conn, pair.survivor_side)  # the survivor's partition is ahead
    before_merge = pair.duplicate_side[2]["position"]
    apply(conn, pair.duplicate_side[:3])
    assert applied_position(conn, pair.survivor) == before_merge
    apply(conn, pair.duplicate_side[3:])
    assert applied_position(conn, pair.survivor) >= pair.merge_position
    assert applied_position(conn, pair.duplicate) >= pair.merge_position


@pytest.mark.parametrize("survivor_side_first", [True, False])
def test_applied_position_reaches_the_merge_whichever_side_was_recorded_last(
    conn: Conn, survivor_side_first: bool
) -> None:
    events = Events()
    s, reg_s = events.register("S", at=T0)
    d, reg_d = events.register("D", at=T0)
    merged, duplicate_merged = events.merge(s, d, at=T0 + days(1))
    if survivor_side_first:  # as if the store had recorded the survivor's event first
        merged["position"], duplicate_merged["position"] = (
            duplicate_merged["position"],
            merged["position"],
        )
    merge_position = max(merged["position"], duplicate_merged["position"])
    apply(conn, [reg_s, duplicate_merged])
    assert applied_position(conn, s) < merge_position
    apply(conn, [reg_d, merged])
    assert applied_position(conn, s) == merge_position
    assert applied_position(conn, d) == merge_position


PAGE: dict[str, Any] = {"first": 10, "after": None}


def test_one_customer_read_alone_answers_as_in_a_batch_and_is_planned_once(
    conn: Conn, database_url: str
) -> None:
    """A 360° screen reads one customer at a time. Its statements bind the one id as a
    scalar (`projections.by_ids.ByIds`), so PostgreSQL settles on one generic plan
    instead of planning every execution; the answers are the batched statements', merges
    followed."""
    pair = Pair(Events())
    apply(conn, pair.everything)
    both = [pair.survivor, pair.duplicate]
    views, complaints = customers_with_complaints(conn, both)
    orders, touches = order_pages(conn, both, **PAGE), touch_pages(conn, both, **PAGE)
    with psycopg.connect(database_url, autocommit=True) as alone:
        for _ in range(14):  # psycopg prepares after 5 runs; PostgreSQL tries 5 custom plans
            answer = customers_with_complaints(alone, [pair.duplicate])
            orders_alone = order_pages(alone, [pair.duplicate], **PAGE)
            touches_alone = touch_pages(alone, [pair.duplicate], **PAGE)
        plans = alone.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).fetchall()
    assert answer == (
        {pair.duplicate: views[pair.duplicate]},
        {pair.duplicate: complaints[pair.duplicate]},
    )
    assert [c.severity for c in answer[1][pair.duplicate]] == ["LOW", "HIGH"]
    assert orders_alone[pair.duplicate] == orders[pair.duplicate]
    assert touches_alone[pair.duplicate] == touches[pair.duplicate]
    assert len(orders_alone[pair.duplicate].edges) == 3  # both customers' purchases
    # resolve, the profile, its complaints, the orders' and the touches' pages
    assert len(plans) == 5, plans
    for statement, generic, custom in plans:
        assert generic >= 2 and custom <= 5, (generic, custom, statement)
