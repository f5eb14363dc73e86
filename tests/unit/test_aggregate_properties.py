"""Property tests: invariants that must hold for any sequence of commands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, composite

from aggregates import Customer, DomainError, Policy, PurchaseLine
from aggregates.purchase import to_cents
from events import PurchaseRecorded
from tests.unit.support.aggregates import AT, POLICY, later, mapper

ALL_STAGES = [*POLICY.all_stages]
stage_targets = st.sampled_from([*ALL_STAGES, "lead", "bogus"])
reasons = st.one_of(st.none(), st.just(""), st.just("changed plans"))
tag_text = st.sampled_from(["vip", " VIP", "b2b", "new", "x" * 51, "", "Beta", "gamma"])
prices = st.decimals(min_value=Decimal(0), max_value=Decimal("99999.99"), places=4, allow_nan=False)


def worth_a_cent_or_free(line: PurchaseLine) -> bool:
    """A priced line worth under half a cent is refused (test_aggregate_purchase)."""
    price = Decimal(line.unit_price)
    return price == 0 or to_cents(price * line.quantity) > 0


lines_strategy = st.lists(
    st.builds(
        PurchaseLine,
        sku=st.sampled_from(["A", "B"]),
        quantity=st.integers(1, 1000),
        unit_price=prices,
    ).filter(worth_a_cent_or_free),
    min_size=1,
    max_size=6,
)
currencies = st.sampled_from(sorted(POLICY.rates_to_cny))


@composite
def commands(draw: DrawFn) -> tuple[Any, ...]:
    """One command with arguments, valid or not (refusals must leave no trace)."""
    kind = draw(
        st.sampled_from(
            ["tag", "untag", "touch", "purchase", "stage", "contact", "consent", "owner", "forget"]
        )
    )
    if kind in ("tag", "untag"):
        return (kind, draw(st.lists(tag_text, max_size=4)))
    if kind == "touch":
        return (
            kind,
            draw(st.sampled_from(["PHONE", "WEB", "FAX"])),
            draw(st.sampled_from(["INBOUND", "OUTBOUND"])),
        )
    if kind == "purchase":
        return (
            kind,
            draw(st.sampled_from(["o1", "o2", "o3"])),
            draw(lines_strategy),
            draw(currencies),
        )
    if kind == "stage":
        return (kind, draw(stage_targets), draw(reasons))
    if kind == "contact":
        return (kind, draw(st.sampled_from(["a@example.com", "B@example.com", None, "bad"])))
    if kind == "consent":
        return (kind, draw(st.sampled_from(["marketing", "profiling"])), draw(st.booleans()))
    if kind == "owner":
        return (kind, draw(st.sampled_from(["alice", "bob", ""])))
    return (kind, draw(st.sampled_from(["", "asked to"])))


def run(customer: Customer, command: tuple[Any, ...], minute: int, policy: Policy = POLICY) -> bool:
    """Apply one command; True if it was accepted."""
    kind, *args = command
    at = later(minute)
    try:
        if kind == "tag":
            customer.tag(args[0], at=at, policy=policy)
        elif kind == "untag":
            customer.untag(args[0], at=at)
        elif kind == "touch":
            customer.record_touch(channel=args[0], direction=args[1], at=at)
        elif kind == "purchase":
            customer.record_purchase(
                order_id=args[0], lines=args[1], currency=args[2], policy=policy, at=at
            )
        elif kind == "stage":
            customer.move_stage(to=args[0], reason=args[1], at=at, policy=policy)
        elif kind == "contact":
            customer.change_contact_details(email=args[0], address=f"{minute} Road", at=at)
        elif kind == "consent":
            customer.change_consent(purpose=args[0], granted=args[1], at=at)
        elif kind == "owner":
            customer.assign_owner(owner=args[0], at=at)
        else:
            customer.forget(reason=args[0], at=at)
    except DomainError:
        return False
    return True


def replay(events: list[Any]) -> Customer:
    rebuilt: Any = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Customer)
    return rebuilt


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(stage_targets, reasons), max_size=25))
def test_stage_moves_keep_the_stage_allowed_and_won_final(
    moves: list[tuple[str, str | None]],
) -> None:
    customer = Customer.register(customer_id=uuid4(), name="P", at=AT)
    accepted = 0
    for minute, (target, reason) in enumerate(moves, start=1):
        before = customer.stage
        if run(customer, ("stage", target, reason), minute):
            accepted += 1
            after = customer.stage
            assert before != "WON"
            assert after != before
            if before == "LOST":
                assert after == "LEAD" and reason
            rank_before, rank_after = POLICY.stage_rank(before), POLICY.stage_rank(after)
            if rank_before is not None and rank_after is not None and rank_after < rank_before:
                assert reason
        else:
            assert customer.stage == before
        assert customer.stage in ALL_STAGES
    assert customer.stage_history[-1][0] == customer.stage
    assert len(customer.stage_history) == accepted + 1
    if "WON" in [stage for stage, _ in customer.stage_history]:
        assert customer.stage == "WON"


@settings(max_examples=150, deadline=None)
@given(st.lists(commands(), max_size=30))
def test_replaying_the_aggregates_own_events_yields_equal_state(
    script: list[tuple[Any, ...]],
) -> None:
    customer = Customer.register(
        customer_id=uuid4(), name="Replay Me", email="r@example.com", at=AT
    )
    for minute, command in enumerate(script, start=1):
        run(customer, command, minute)
    events = list(customer.collect_events())
    assert [event.originator_version for event in events] == list(range(1, len(events) + 1))
    assert replay(events) == customer
    # The same through the store's mapping (JSON, Decimal and datetime transcodings).
    m = mapper()
    assert replay([m.to_domain_event(m.to_stored_event(event)) for event in events]) == customer
    # And through a snapshot, which copies __dict__.
    snapshot = m.to_domain_event(m.to_stored_event(Snapshot.take(customer)))
    assert snapshot.mutate(None) == customer  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(lines_strategy, currencies), min_size=1, max_size=4))
def test_purchase_totals_are_the_sum_of_lines_times_rates(
    purchases: list[tuple[list[PurchaseLine], str]],
) -> None:
    customer = Customer.register(customer_id=uuid4(), name="Buyer", at=AT)
    customer.collect_events()
    expected_total_cny = Decimal(0)
    for minute, (lines, currency) in enumerate(purchases, start=1):
        customer.record_purchase(
            order_id=f"o{minute}", lines=lines, currency=currency, policy=POLICY, at=later(minute)
        )
        (event,) = customer.collect_events()
        assert isinstance(event, PurchaseRecorded)
        rate = POLICY.rates_to_cny[currency]
        amounts = [to_cents(Decimal(line.unit_price) * line.quantity) for line in lines]
        assert [Decimal(item["amount"]) for item in event.lines] == amounts
        assert Decimal(event.total) == sum(amounts)
        assert Decimal(event.total_cny) == to_cents(sum(amounts) * rate)
        exact = sum((Decimal(line.unit_price) * line.quantity for line in lines), Decimal(0)) * rate
        tolerance = (Decimal("0.005") * len(lines)) * rate + Decimal("0.005")
        assert abs(Decimal(event.total_cny) - exact) <= tolerance
        expected_total_cny += Decimal(event.total_cny)
    assert customer.purchase_total_cny == expected_total_cny
    assert customer.purchase_count == len(purchases)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(tag_text, max_size=4)), max_size=20))
def test_tags_stay_normalised_unique_sorted_and_capped(
    script: list[tuple[bool, list[str]]],
) -> None:
    policy = Policy(max_tags=3)
    customer = Customer.register(customer_id=uuid4(), name="Tags", at=AT)
    for minute, (add, tags) in enumerate(script, start=1):
        run(customer, ("tag" if add else "untag", tags), minute, policy)
        assert customer.tags == sorted(set(customer.tags))
        assert len(customer.tags) <= policy.max_tags
        assert all(tag == tag.strip().lower() and 1 <= len(tag) <= 50 for tag in customer.tags)
