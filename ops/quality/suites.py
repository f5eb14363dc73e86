"""Every expectation, by the data it guards. A failed one names its suite and column.

The sets come from the vocabulary the projections use; the reconciliation values come
from the event store (`StoreFacts`), so a read model that drifted from the system of
record fails here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

from events.vocabulary import COMPLAINT_STATUSES, PIPELINE_PATH, PIPELINE_STAGES, SEVERITIES
from ops.quality.frames import CHECKED_COLUMNS
from ops.quality.store import StoreFacts
from projections.vocabulary import LIFECYCLE_STAGES, TIERS


@dataclass(frozen=True)
class Suite:
    name: str
    """Also the frame it validates (see `ops.quality.frames`)."""
    expectations: list[Expectation] = field(default_factory=list)


def _id(column: str) -> list[Expectation]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column),
        gxe.ExpectColumnValuesToBeUnique(column=column),
    ]


def _in(column: str, values: tuple[str, ...]) -> Expectation:
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))


def _at_least(column: str, low: float) -> Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low)


def _between(column: str, low: float, high: float) -> Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)


def _non_increasing(column: str) -> Expectation:
    return gxe.ExpectColumnValuesToBeDecreasing(column=column, strictly=False)


def read_model_suites(facts: StoreFacts) -> list[Suite]:
    return [
        Suite("rm_customers", [*_id("id"), _in("stage", PIPELINE_STAGES), _at_least("version", 1)]),
        Suite(
            "rm_live_customers",
            [*_id("id"), gxe.ExpectTableRowCountToEqual(value=facts.live_customers)],
        ),
        Suite(
            "rm_purchases",
            [
                *_id("position"),
                gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
                _at_least("total", 0),
                _at_least("total_cny", 0),
            ],
        ),
        Suite(
            "rm_complaints",
            [
                *_id("id"),
                _in("status", COMPLAINT_STATUSES),
                _in("severity", SEVERITIES),
                _between("satisfaction", 1, 5),
            ],
        ),
        Suite(
            "rm_funnel",
            [
                *_id("customer_id"),
                _in("furthest_stage", PIPELINE_PATH),
                _between("furthest_rank", 0, len(PIPELINE_PATH) - 1),
            ],
        ),
        Suite("rm_funnel_steps", [_in("stage", PIPELINE_PATH), _non_increasing("reached")]),
    ]


def analytics_suites(facts: StoreFacts) -> list[Suite]:
    return [
        Suite(
            "analytics_customers",
            [
                *_id("customer_id"),
                _in("stage", PIPELINE_STAGES),
                _in("lifecycle_stage", LIFECYCLE_STAGES),
                _in("tier", TIERS),
                _at_least("purchase_count", 0),
                _at_least("purchase_total", 0),
                _at_least("open_complaints", 0),
                gxe.ExpectTableRowCountToEqual(value=facts.live_customers),
            ],
        ),
        Suite(
            "analytics_events",
            [*_id("position"), gxe.ExpectColumnValuesToNotBeNull(column="type")],
        ),
        Suite(
            "analytics_purchases",
            [
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["position", "line_no"]),
                gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
                _at_least("quantity", 1),
                _at_least("amount_cny", 0),
                _at_least("order_total_cny", 0),
            ],
        ),
        Suite(
            "analytics_funnel",
            [_in("stage", PIPELINE_PATH), _non_increasing("reached"), _between("conversion", 0, 1)],
        ),
        Suite(
            "analytics_rfm",
            [*_id("customer_id"), *(_between(s, 1, 5) for s in ("r_score", "f_score", "m_score"))],
        ),
        Suite("analytics_cohorts", [_between("retention", 0, 1), _at_least("revenue", 0)]),
    ]


def _equal(a: str, b: str) -> Expectation:
    return gxe.ExpectColumnPairValuesToBeEqual(column_A=a, column_B=b)


def reconciliation_suites() -> list[Suite]:
    return [
        Suite(
            "analytics_coverage",
            [gxe.ExpectColumnValuesToBeInSet(column="in_analytics", value_set=[True])],
        ),
        Suite(
            "timeline_coverage",
            [gxe.ExpectColumnValuesToBeInSet(column="in_timeline", value_set=[True])],
        ),
        Suite(
            "derived_state",
            [
                *_id("id"),
                *(_equal(f"stored_{n}", f"rule_{n}") for n in CHECKED_COLUMNS),
            ],
        ),
        Suite(
            "touch_counts",
            [
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["customer_id", "channel"]),
                _equal("stored_touches", "counted_touches"),
                _equal("stored_last_at", "counted_last_at"),
            ],
        ),
        Suite(
            "purchase_totals",
            [
                *_id("customer_id"),
                gxe.ExpectColumnPairValuesToBeEqual(
                    column_A="store_total", column_B="read_model_total"
                ),
                gxe.ExpectColumnPairValuesToBeEqual(
                    column_A="store_total", column_B="analytics_total"
                ),
            ],
        ),
    ]


def all_suites(facts: StoreFacts) -> list[Suite]:
    return [*read_model_suites(facts), *analytics_suites(facts), *reconciliation_suites()]
