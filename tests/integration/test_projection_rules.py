"""RULES.md on the read side, against PostgreSQL: funnel, lifecycle stage, tier.

The lifecycle and tier cases are the very table tests/unit/test_projection_derived.py
runs through the Python functions: here they go through the projections, which store
the answer (`projections.materialize`), and the reads, which only look it up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.vocabulary import LIFECYCLE_STAGES, PIPELINE_PATH, TIERS
from projections.derived import ComplaintFact, PurchaseFact, facts_as_of, lifecycle_stage, tier
from projections.materialize import refresh
from projections.queries import (
    funnel,
    get_customers,
    lifecycle_distribution,
    list_customers,
    tier_distribution,
)
from projections.views import CustomerFilter
from tests.integration.support.read_models import Conn
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_cases import DAY, LIFECYCLE_CASES, NOW, TIER_CASES, Case
from tests.support.projection_events import T0, Envelope, Events, days

pytestmark = pytest.mark.integration


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime = NOW) -> int:
    return apply_at(conn, envelopes, now)


def refresh_at(conn: Conn, cid: UUID, now: datetime) -> None:
    """What the scheduler does once a stored answer's moment has passed."""
    refresh(conn, [cid], now)
    conn.commit()


def last_position(conn: Conn) -> int:
    """Where a new `Events` must start so its positions follow those already applied."""
    row = conn.execute("SELECT coalesce(max(position), 0) FROM rm_timeline").fetchone()
    return int(row[0]) if row else 0


def customer_for(events: Events, case: Case) -> tuple[UUID, list[Envelope]]:
    """The envelopes that give a customer exactly the facts `case` describes."""
    cid, registered = events.register(case.name, at=NOW - 1000 * DAY)
    batch = [registered]
    if case.stage != "LEAD":
        batch.append(events.move(cid, "LEAD", case.stage, at=NOW - 999 * DAY))
    for ago, amount in case.purchases:
        batch.append(events.purchase(cid, amount, at=NOW - ago * DAY))
    for severity, resolved in case.complaints:
        complaint, filed = events.complain(cid, severity, at=NOW - 10 * DAY)
        batch.append(filed)
        if resolved:
            batch.append(events.resolve(cid, complaint, at=NOW - DAY))
    return cid, batch


def seed(conn: Conn, cases: Sequence[Case]) -> dict[UUID, Case]:
    events = Events()
    seeded: dict[UUID, Case] = {}
    batch: list[Envelope] = []
    for case in cases:
        cid, envelopes = customer_for(events, case)
        seeded[cid] = case
        batch += envelopes
    apply(conn, batch)
    return seeded


def test_every_lifecycle_row_in_sql(conn: Conn) -> None:
    seeded = seed(conn, LIFECYCLE_CASES)
    views = get_customers(conn, list(seeded))
    got = {seeded[cid].name: view.lifecycle_stage for cid, view in views.items()}
    assert got == {case.name: case.expected for case in LIFECYCLE_CASES}
    expected = Counter(case.expected for case in LIFECYCLE_CASES)
    assert {c.stage: c.count for c in lifecycle_distribution(conn)} == {
        stage: expected.get(stage, 0) for stage in LIFECYCLE_STAGES
    }
    for stage, count in expected.items():
        page = list_customers(conn, CustomerFilter(lifecycle_stage=stage), first=100)
        assert page.total_count == count
        assert {e.node.lifecycle_stage for e in page.rows} == {stage}


def test_every_tier_row_in_sql(conn: Conn) -> None:
    seeded = seed(conn, TIER_CASES)
    views = get_customers(conn, list(seeded))
    got = {seeded[cid].name: view.tier for cid, view in views.items()}
    assert got == {case.name: case.expected for case in TIER_CASES}
    expected = Counter(case.expected for case in TIER_CASES)
    assert {t.tier: t.count for t in tier_distribution(conn)} == {
        t: expected.get(t, 0) for t in TIERS
    }
    page = list_customers(conn, CustomerFilter(tier="GOLD"), first=100)
    assert sorted(e.node.name or "" for e in page.rows) == sorted(
        c.name for c in TIER_CASES if c.expected == "GOLD"
    )


@pytest.mark.parametrize(
    ("day", "stage"),
    [(90, "NEW_CUSTOMER"), (91, "AT_RISK"), (180, "AT_RISK"), (181, "CHURNED")],
)
def test_time_alone_moves_the_stored_lifecycle_stage(conn: Conn, day: int, stage: str) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    apply(conn, [registered, events.purchase(cid, 100, at=T0)], now=T0)
    assert get_customers(conn, [cid])[cid].lifecycle_stage == "NEW_CUSTOMER"
    refresh_at(conn, cid, T0 + days(day))
    assert get_customers(conn, [cid])[cid].lifecycle_stage == stage
    counts = {c.stage: c.count for c in lifecycle_distribution(conn)}
    assert counts[stage] == 1 and sum(counts.values()) == 1


def test_a_tier_decays_as_purchases_age(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    apply(conn, [registered, events.purchase(cid, 30000, at=T0)], now=T0)
    refresh_at(conn, cid, T0 + days(365))
    assert get_customers(conn, [cid])[cid].tier == "GOLD"
    refresh_at(conn, cid, T0 + days(366))
    assert get_customers(conn, [cid])[cid].tier == "BRONZE"


purchase_strategy = st.lists(
    st.tuples(
        st.integers(min_value=-5, max_value=400),
        st.decimals(min_value=0, max_value=60000, places=2, allow_nan=False),
    ),
    max_size=14,
)
complaint_strategy = st.lists(
    st.tuples(st.sampled_from(["LOW", "MEDIUM", "HIGH", "CRITICAL"]), st.booleans()), max_size=2
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stage=st.sampled_from((*PIPELINE_PATH, "LOST")),
    purchases=purchase_strategy,
    complaints=complaint_strategy,
    later=st.integers(min_value=0, max_value=200),
)
def test_stored_and_python_agree(
    conn: Conn,
    stage: str,
    purchases: list[tuple[int, Decimal]],
    complaints: list[tuple[str, bool]],
    later: int,
) -> None:
    events = Events(start_position=last_position(conn))
    case = Case(
        "random", "", stage, tuple((float(a), str(v)) for a, v in purchases), tuple(complaints)
    )
    cid, batch = customer_for(events, case)
    now = NOW + later * DAY
    apply(conn, batch, now=now)
    facts = facts_as_of(
        stage=stage,
        purchases=[PurchaseFact(NOW - a * DAY, v) for a, v in purchases],
        complaints=[
            ComplaintFact(s, NOW - 10 * DAY, NOW - DAY if resolved else None)
            for s, resolved in complaints
        ],
        now=now,
    )
    view = get_customers(conn, [cid])[cid]
    assert (view.lifecycle_stage, view.tier) == (lifecycle_stage(facts, now), tier(facts))


# --- funnel ----------------------------------------------------------------------------


def journey(
    events: Events, stages: Sequence[str], *, at: datetime, **fields: Any
) -> list[Envelope]:
    cid, registered = events.register(at=at, **fields)
    batch = [registered]
    for step, (before, after) in enumerate(zip(["LEAD", *stages], stages, strict=False)):
        batch.append(events.move(cid, before, after, at=at + timedelta(hours=step + 1)))
    return batch


def reached(steps: Sequence[Any]) -> list[int]:
    return [s.reached for s in steps]


@pytest.fixture
def pipeline(conn: Conn) -> None:
    events = Events()
    batch: list[Envelope] = []
    in_window = T0 + days(10)
    for stages in (
        [],  # a lead that went nowhere
        ["CONTACTED"],
        ["QUALIFIED", "LOST"],  # skipped CONTACTED; lost counts where it got
        ["PROPOSAL", "QUOTE", "NEGOTIATION", "WON"],
        ["CONTACTED", "LOST", "LEAD"],  # won back: still reached CONTACTED
        ["NEGOTIATION", "PROPOSAL"],  # moved back: still reached NEGOTIATION
    ):
        batch += journey(events, stages, at=in_window, source="web")
    batch += journey(events, ["WON"], at=T0 + days(10), source="referral")
    batch += journey(events, ["WON"], at=T0 + days(40), source="web")  # after the window
    batch += journey(events, ["CONTACTED"], at=T0, source="web")  # on the window's start
    apply(conn, batch)


def test_funnel_counts_the_furthest_stage_reached(conn: Conn, pipeline: None) -> None:
    steps = funnel(conn, T0, T0 + days(40), "web")
    assert [s.stage for s in steps] == list(PIPELINE_PATH)
    assert reached(steps) == [7, 6, 3, 2, 2, 2, 1]
    assert steps[0].conversion_from_previous is None
    assert steps[1].conversion_from_previous == pytest.approx(6 / 7)
    assert steps[3].conversion_from_previous == pytest.approx(2 / 3)
    assert steps[6].conversion_from_previous == pytest.approx(1 / 2)


def test_funnel_window_is_from_inclusive_to_exclusive(conn: Conn, pipeline: None) -> None:
    assert reached(funnel(conn, T0, T0 + days(40)))[0] == 8
    assert reached(funnel(conn, T0, T0 + days(40) + timedelta(microseconds=1)))[0] == 9
    assert reached(funnel(conn, T0 + timedelta(microseconds=1), None))[0] == 8
    assert reached(funnel(conn))[0] == 9
    assert reached(funnel(conn, source="referral")) == [1] * 7


def test_funnel_conversion_is_null_after_an_empty_stage(conn: Conn) -> None:
    events = Events()
    apply(conn, journey(events, [], at=T0))
    steps = funnel(conn)
    assert reached(steps) == [1, 0, 0, 0, 0, 0, 0]
    assert [s.conversion_from_previous for s in steps] == [None, 0.0, None, None, None, None, None]
    assert [s.reached for s in funnel(conn, source="nowhere")] == [0] * 7
