"""The read API the gateway calls: batch lookups, filtered pages, complaints, timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from projections.cursors import InvalidCursor
from projections.queries import (
    complaints_for,
    get_customers,
    lifecycle_distribution,
    list_customers,
    tier_distribution,
    timeline,
)
from projections.views import CustomerFilter
from projections.vocabulary import LIFECYCLE_STAGES, TIERS
from tests.integration.support.read_models import Conn
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

NOW = T0 + days(30)

pytestmark = pytest.mark.integration


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime = NOW) -> int:
    return apply_at(conn, envelopes, now)


@pytest.fixture
def crowd(conn: Conn) -> dict[str, UUID]:
    """Seven customers registered a day apart, with varied facts."""
    events = Events()
    people = [
        ("Ann Lee", "ann@example.com", "Acme", "east", "bob"),
        ("Bo Chen", "bo@example.com", "Globex", "west", "bob"),
        ("Cy 50%_off", "cy@example.com", None, "east", "carol"),
        ("Di Wu", None, "Initech", "north", None),
        ("Ed Ma", "ed@acme.com", None, "east", "carol"),
        ("Fa Li", "fa@example.com", None, "south", None),
        ("Gu Yi", "gu@example.com", None, "west", None),
    ]
    ids: dict[str, UUID] = {}
    batch: list[Envelope] = []
    for i, (name, email, company, region, owner) in enumerate(people):
        cid, envelope = events.register(
            name,
            at=T0 + days(i),
            email=email,
            company=company,
            region=region,
            owner=owner,
            phone=f"+86138000000{i:02d}",
        )
        ids[name.split()[0]] = cid
        batch.append(envelope)
    batch += [
        events.tag(ids["Ann"], "vip", "b2b"),
        events.tag(ids["Ed"], "vip"),
        events.purchase(ids["Ann"], 150000, at=T0 + days(20)),
        events.purchase(ids["Bo"], 3000, at=T0 + days(20)),
        events.purchase(ids["Bo"], 3000, at=T0 + days(21)),
        events.move(ids["Cy"], "LEAD", "PROPOSAL", at=T0 + days(5)),
        events.move(ids["Di"], "LEAD", "WON", at=T0 + days(5)),
        events.touch(ids["Ed"], "WECHAT", "hello"),
    ]
    apply(conn, batch)
    return ids


def names(page: Any) -> list[str | None]:
    return [edge.node.name for edge in page.rows]


def test_get_customers_answers_a_batch_and_leaves_unknown_ids_out(
    conn: Conn, crowd: dict[str, UUID]
) -> None:
    missing = uuid4()
    found = get_customers(conn, [crowd["Ann"], str(crowd["Bo"]), missing, "not-a-uuid"])
    assert set(found) == {crowd["Ann"], crowd["Bo"]}
    assert found[crowd["Ann"]].tier == "VIP" and found[crowd["Bo"]].tier == "SILVER"
    assert found[crowd["Bo"]].lifecycle_stage == "REPEAT_CUSTOMER"
    assert get_customers(conn, []) == {}


def test_list_pages_through_everyone_in_creation_order(conn: Conn, crowd: dict[str, UUID]) -> None:
    seen: list[str | None] = []
    after = None
    pages = 0
    while True:
        rows, total, has_next, end = list_customers(conn, None, first=3, after=after)
        assert total == 7
        seen += [edge.node.name for edge in rows]
        pages += 1
        if not has_next:
            break
        assert end == rows[-1].cursor
        after = end
    assert pages == 3
    assert seen == ["Ann Lee", "Bo Chen", "Cy 50%_off", "Di Wu", "Ed Ma", "Fa Li", "Gu Yi"]
    past_the_end = list_customers(conn, None, first=3, after=end)
    assert (past_the_end.rows, past_the_end.total_count, past_the_end.has_next) == ([], 7, False)
    assert past_the_end.end_cursor is None


def test_a_page_of_nothing_still_counts(conn: Conn, crowd: dict[str, UUID]) -> None:
    page = list_customers(conn, None, first=0)
    assert (page.rows, page.total_count, page.has_next) == ([], 7, True)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (CustomerFilter(text="ACME"), ["Ann Lee", "Ed Ma"]),  # company, then email
        (CustomerFilter(text="bo@"), ["Bo Chen"]),
        (CustomerFilter(text="13800000003"), ["Di Wu"]),
        (CustomerFilter(text="50%_"), ["Cy 50%_off"]),
        (CustomerFilter(text="%"), ["Cy 50%_off"]),
        (CustomerFilter(tag="VIP"), ["Ann Lee", "Ed Ma"]),
        (CustomerFilter(region="east"), ["Ann Lee", "Cy 50%_off", "Ed Ma"]),
        (CustomerFilter(owner="carol"), ["Cy 50%_off", "Ed Ma"]),
        (CustomerFilter(stage="WON"), ["Di Wu"]),
        (CustomerFilter(tier="VIP"), ["Ann Lee"]),
        (CustomerFilter(tier="BRONZE", region="east"), ["Cy 50%_off", "Ed Ma"]),
        (CustomerFilter(lifecycle_stage="NEW_CUSTOMER"), ["Ann Lee", "Di Wu"]),
        (CustomerFilter(lifecycle_stage="OPPORTUNITY"), ["Cy 50%_off"]),
        (CustomerFilter(lifecycle_stage="PROSPECT", tag="vip"), ["Ed Ma"]),
        (CustomerFilter(text="nobody"), []),
    ],
)
def test_list_filters(
    conn: Conn, crowd: dict[str, UUID], where: CustomerFilter, expected: list[str]
) -> None:
    page = list_customers(conn, where, first=20)
    assert names(page) == expected
    assert page.total_count == len(expected)


def test_filtered_pages_count_the_whole_filter(conn: Conn, crowd: dict[str, UUID]) -> None:
    first = list_customers(conn, CustomerFilter(tier="BRONZE"), first=2)
    assert (names(first), first.total_count, first.has_next) == (["Cy 50%_off", "Di Wu"], 5, True)
    second = list_customers(conn, CustomerFilter(tier="BRONZE"), 2, first.end_cursor)
    assert names(second) == ["Ed Ma", "Fa Li"]


def test_bad_arguments_are_refused(conn: Conn, crowd: dict[str, UUID]) -> None:
    with pytest.raises(InvalidCursor):
        list_customers(conn, None, first=2, after="garbage")
    with pytest.raises(ValueError, match="tier"):
        CustomerFilter(tier="PLATINUM")
    with pytest.raises(ValueError, match="first"):
        list_customers(conn, None, first=-1)


def test_distributions_list_every_value_with_zero_counts(
    conn: Conn, crowd: dict[str, UUID]
) -> None:
    lifecycle = {c.stage: c.count for c in lifecycle_distribution(conn)}
    assert list(lifecycle) == list(LIFECYCLE_STAGES)
    assert lifecycle == {
        "PROSPECT": 3,
        "OPPORTUNITY": 1,
        "NEW_CUSTOMER": 2,
        "REPEAT_CUSTOMER": 1,
        "LOYAL": 0,
        "AT_RISK": 0,
        "CHURNED": 0,
    }
    tiers = [(t.tier, t.count) for t in tier_distribution(conn)]
    assert tiers == [("VIP", 1), ("GOLD", 0), ("SILVER", 1), ("BRONZE", 5)]
    assert [t.tier for t in tier_distribution(conn)] == list(TIERS)


def test_distributions_of_an_empty_read_model(conn: Conn) -> None:
    assert all(c.count == 0 for c in lifecycle_distribution(conn))
    assert [t.count for t in tier_distribution(conn)] == [0, 0, 0, 0]


def test_complaints_follow_their_lifecycle_and_filter_by_status(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    quiet, other = events.register("Quiet", at=T0)
    first, filed = events.complain(cid, "LOW", "slow", at=T0 + days(1))
    second, critical = events.complain(cid, "CRITICAL", "broken", at=T0 + days(2))
    apply(
        conn,
        [
            registered,
            other,
            filed,
            critical,
            events.escalate(cid, second, at=T0 + days(2)),
            events.resolve(cid, first, at=T0 + days(3), satisfaction=5),
        ],
    )
    everything = complaints_for(conn, [cid, quiet, uuid4()])
    assert set(everything) == {cid, quiet} and everything[quiet] == []
    low, crit = everything[cid]
    assert (low.id, low.status, low.satisfaction, low.resolved_at) == (
        first,
        "RESOLVED",
        5,
        T0 + days(3),
    )
    assert (crit.id, crit.status, crit.severity, crit.escalated_at) == (
        second,
        "ESCALATED",
        "CRITICAL",
        T0 + days(2),
    )
    assert (crit.customer_id, crit.category, crit.description) == (cid, "delivery", "broken")
    assert [c.id for c in complaints_for(conn, [cid], "ESCALATED")[cid]] == [second]
    assert complaints_for(conn, [cid], "OPEN")[cid] == []
    view = get_customers(conn, [cid])[cid]
    assert view.version == 1, "complaint events do not move the customer's own version"
    with pytest.raises(ValueError, match="status"):
        complaints_for(conn, [cid], "CLOSED")


def test_timeline_pages_through_a_customers_events_and_complaints(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    tagged = events.tag(cid, "a")
    _, filed = events.complain(cid, at=T0 + days(1))
    batch = [registered, tagged, filed, events.touch(cid, "WEB", "browsed")]
    apply(conn, batch)
    first = timeline(conn, cid, first=3)
    assert [e.node.type for e in first.rows] == [
        "crm.customer.registered.v1",
        "crm.customer.tagged.v1",
        "crm.complaint.filed.v1",
    ]
    assert first.has_next
    rest = timeline(conn, cid, first=3, after=first.end_cursor)
    assert not rest.has_next
    (touch,) = rest.rows
    assert touch.node.type == "crm.customer.contact_touch_recorded.v3"
    assert (touch.node.schema_version, touch.node.actor) == (3, "alice")
    assert touch.node.data["summary"] == "browsed"
    assert first.rows[2].node.stream_id != cid
    assert timeline(conn, uuid4()).rows == []
