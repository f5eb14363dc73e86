"""Lifecycle stage and tier as the projections store them: the answer, and until when.

The rules themselves are `projections.derived` (pure functions over a customer's facts
at a moment). The projections apply them once per touched customer and store the
answer with `valid_until`, the first moment the answer changes without any new fact:
a last purchase turning 90 or 180 days old, a purchase leaving the 365-day window, a
fact dated in the future coming due. The scheduler (`streams.lifecycle_scheduler`)
advances every customer whose moment has passed, so reads stay plain lookups.

Exact instants: "more than 90 days ago" holds from ``last + 90 days + 1 µs`` on, and a
purchase is "in the last 365 days" until ``occurred_at + 365 days`` inclusive, so the
candidates are those instants (microseconds are PostgreSQL's resolution too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from projections.derived import (
    DEFAULT_THRESHOLDS,
    ComplaintFact,
    PurchaseFact,
    Thresholds,
    facts_as_of,
    lifecycle_with_reason,
    tier,
    tier_reason,
)

TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Derived:
    """What a customer's facts say at `as_of`, and the first moment they say otherwise."""

    lifecycle_stage: str
    tier: str
    reason: str
    as_of: datetime
    valid_until: datetime | None
    tier_reason: str = ""


def answer_at(
    stage: str,
    purchases: Sequence[PurchaseFact],
    complaints: Sequence[ComplaintFact],
    at: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[str, str, str, str]:
    """(lifecycle stage, tier, lifecycle reason, tier reason) at `at`."""
    facts = facts_as_of(
        stage=stage, purchases=purchases, complaints=complaints, now=at, thresholds=thresholds
    )
    lifecycle, reason = lifecycle_with_reason(facts, at, thresholds)
    return lifecycle, tier(facts, thresholds), reason, tier_reason(facts, thresholds)


def _purchase_moments(
    purchases: Sequence[PurchaseFact], now: datetime, t: Thresholds
) -> Iterator[datetime]:
    """Instants after `now` when a purchase's age crosses a threshold (or it comes due).

    Recency only matters for the last purchase at `now` and for purchases still to come
    (each may become the last one); window exits matter for every purchase in a window.
    """
    past = [p.occurred_at for p in purchases if p.occurred_at <= now]
    future = [p.occurred_at for p in purchases if p.occurred_at > now]
    recent = ([max(past)] if past else []) + future
    yield from future
    for at in recent:
        yield at + t.at_risk_after + TICK
        yield at + t.churned_after + TICK
    for at in past + future:
        yield at + t.loyal_window + TICK
        yield at + t.tier_window + TICK


def _complaint_moments(complaints: Iterable[ComplaintFact], t: Thresholds) -> Iterator[datetime]:
    for c in complaints:
        if c.severity in t.severe_severities:
            yield c.filed_at
            if c.resolved_at is not None:
                yield c.resolved_at


def derive(
    stage: str,
    purchases: Sequence[PurchaseFact],
    complaints: Sequence[ComplaintFact],
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Derived:
    """The stored answer at `now` and its `valid_until` (None: only a new fact changes it).

    Walks the candidate instants in order and stops at the first whose answer differs,
    so `valid_until` is exact: the scheduler never wakes for a change that is not one.
    """
    current = answer_at(stage, purchases, complaints, now, thresholds)
    candidates = {
        m
        for m in (
            *_purchase_moments(purchases, now, thresholds),
            *_complaint_moments(complaints, thresholds),
        )
        if m > now
    }
    for moment in sorted(candidates):
        later = answer_at(stage, purchases, complaints, moment, thresholds)
        if later[:2] != current[:2]:
            return Derived(current[0], current[1], current[2], now, moment, current[3])
    return Derived(current[0], current[1], current[2], now, None, current[3])
