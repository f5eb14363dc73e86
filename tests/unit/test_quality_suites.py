"""Every data-quality expectation passes on good data and fails on a copy corrupted to
break exactly it (Great Expectations on in-memory frames; no servers needed)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd
import pytest

from ops.quality.runner import run_suites
from ops.quality.store import StoreFacts
from ops.quality.suites import Suite, all_suites

IDS = [str(uuid4()) for _ in range(3)]
FACTS = StoreFacts(live_customers=3, purchase_totals={})


def good_frames() -> dict[str, pd.DataFrame]:
    money = [Decimal("10.00"), Decimal("0.00"), Decimal("99.50")]
    totals = [str(m) for m in money]
    return {
        "rm_customers": pd.DataFrame(
            {
                "id": IDS,
                "stage": ["LEAD", "WON", "LOST"],
                "forgotten": [False] * 3,
                "merged_into": [None] * 3,
                "version": [1, 4, 2],
            }
        ),
        "rm_live_customers": pd.DataFrame({"id": IDS}),
        "rm_purchases": pd.DataFrame(
            {
                "position": [5, 6, 9],
                "customer_id": IDS,
                "currency": ["CNY"] * 3,
                "total": money,
                "total_cny": money,
            }
        ),
        "rm_complaints": pd.DataFrame(
            {
                "id": IDS,
                "customer_id": IDS,
                "severity": ["LOW", "HIGH", "CRITICAL"],
                "status": ["OPEN", "ESCALATED", "RESOLVED"],
                "satisfaction": [None, None, 4],
            }
        ),
        "rm_funnel": pd.DataFrame(
            {
                "customer_id": IDS,
                "furthest_rank": [0, 6, 2],
                "furthest_stage": ["LEAD", "WON", "QUALIFIED"],
            }
        ),
        "rm_funnel_steps": pd.DataFrame(
            {"stage": ["LEAD", "CONTACTED", "WON"], "reached": [3, 2, 2]}
        ),
        "analytics_customers": pd.DataFrame(
            {
                "customer_id": IDS,
                "stage": ["LEAD", "WON", "LOST"],
                "lifecycle_stage": ["PROSPECT", "LOYAL", "CHURNED"],
                "tier": ["BRONZE", "VIP", "GOLD"],
                "purchase_count": [0, 12, 1],
                "purchase_total": money,
                "open_complaints": [0, 1, 0],
            }
        ),
        "analytics_events": pd.DataFrame(
            {"position": [1, 2, 3], "type": ["a", "b", "c"], "customer_id": IDS}
        ),
        "analytics_purchases": pd.DataFrame(
            {
                "position": [5, 5, 9],
                "line_no": [1, 2, 1],
                "customer_id": IDS,
                "quantity": [1, 3, 2],
                "amount_cny": money,
                "order_total_cny": money,
            }
        ),
        "analytics_funnel": pd.DataFrame(
            {
                "rank": [0, 1, 2],
                "stage": ["LEAD", "CONTACTED", "QUALIFIED"],
                "reached": [3, 2, 2],
                "conversion": [None, 0.66, 1.0],
            }
        ),
        "analytics_rfm": pd.DataFrame(
            {"customer_id": IDS, "r_score": [1, 3, 5], "f_score": [5, 1, 2], "m_score": [2, 2, 5]}
        ),
        "analytics_cohorts": pd.DataFrame(
            {
                "cohort_month": ["2024-01", "2024-01", "2024-02"],
                "months_since": [0, 1, 0],
                "retention": [0.5, 0.25, 1.0],
                "revenue": money,
            }
        ),
        "purchase_totals": pd.DataFrame(
            {
                "customer_id": IDS,
                "store_total": totals,
                "read_model_total": totals,
                "analytics_total": totals,
            }
        ),
        "touch_counts": pd.DataFrame(
            {
                "customer_id": IDS,
                "channel": ["PHONE", "EMAIL", "PHONE"],
                "stored_touches": ["3", "1", "12"],
                "counted_touches": ["3", "1", "12"],
                "stored_last_at": ["2025-01-01 00:00:00+00", "2025-02-01 00:00:00+00", ""],
                "counted_last_at": ["2025-01-01 00:00:00+00", "2025-02-01 00:00:00+00", ""],
            }
        ),
        "analytics_coverage": pd.DataFrame({"position": [3, 7, 9], "in_analytics": [True] * 3}),
        "timeline_coverage": pd.DataFrame({"position": [3, 7, 9], "in_timeline": [True] * 3}),
        "derived_state": pd.DataFrame(
            {
                "id": IDS,
                "stored_lifecycle_stage": ["LOYAL", "AT_RISK", "PROSPECT"],
                "rule_lifecycle_stage": ["LOYAL", "AT_RISK", "PROSPECT"],
                "stored_tier": ["VIP", "GOLD", "BRONZE"],
                "rule_tier": ["VIP", "GOLD", "BRONZE"],
                "stored_valid_until": ["2025-01-01 00:00:00+00:00", "", ""],
                "rule_valid_until": ["2025-01-01 00:00:00+00:00", "", ""],
                "stored_purchase_count": ["7", "1", "0"],
                "rule_purchase_count": ["7", "1", "0"],
                "stored_purchase_total": totals,
                "rule_purchase_total": totals,
                "stored_touch_count": ["3", "1", "12"],
                "rule_touch_count": ["3", "1", "12"],
                "stored_open_complaints": ["0", "2", "0"],
                "rule_open_complaints": ["0", "2", "0"],
            }
        ),
    }


def _corrupt(frame: pd.DataFrame, kind: str, kwargs: dict[str, Any]) -> pd.DataFrame:
    """Break the one rule `kind` states about `frame`."""
    bad = frame.copy().astype(object)
    column = kwargs.get("column")
    if kind == "expect_column_values_to_not_be_null":
        bad.loc[0, column] = None
    elif kind == "expect_column_values_to_be_unique":
        bad.loc[1, column] = bad.loc[0, column]
    elif kind == "expect_column_values_to_be_in_set":
        bad.loc[0, column] = "NOT_A_VALUE"
    elif kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        bad.loc[0, column] = (low - 1) if low is not None else (high + 1)
    elif kind == "expect_column_values_to_be_decreasing":
        bad.loc[len(bad) - 1, column] = bad[column].max() + 1
    elif kind == "expect_table_row_count_to_equal":
        bad = bad.drop(index=0)
    elif kind == "expect_compound_columns_to_be_unique":
        for name in kwargs["column_list"]:
            bad.loc[1, name] = bad.loc[0, name]
    elif kind == "expect_column_pair_values_to_be_equal":
        bad.loc[0, kwargs["column_B"]] = "-1.00"
    else:
        raise AssertionError(f"no corruption written for {kind}: add one")
    return bad.infer_objects()


def cases() -> list[tuple[str, int]]:
    return [
        (suite.name, index)
        for suite in all_suites(FACTS)
        for index in range(len(suite.expectations))
    ]


def test_every_suite_passes_on_good_data(tmp_path: Path) -> None:
    report = run_suites(good_frames(), all_suites(FACTS), tmp_path / "gx", build_docs=True)
    assert report.failures == []
    assert len(report.outcomes) == len(cases())
    assert report.docs_index and report.docs_index.endswith("index.html")


@pytest.mark.parametrize(("suite_name", "index"), cases())
def test_each_expectation_fails_on_a_copy_corrupted_to_break_it(
    suite_name: str, index: int, tmp_path: Path
) -> None:
    suite = next(s for s in all_suites(FACTS) if s.name == suite_name)
    expectation = suite.expectations[index]
    config = expectation.configuration
    frames = good_frames()
    frames[suite_name] = _corrupt(frames[suite_name], config.type, dict(config.kwargs))
    report = run_suites(
        {suite_name: frames[suite_name]},
        [Suite(suite_name, [expectation])],
        tmp_path / "gx",
        build_docs=False,
    )
    assert [o.success for o in report.outcomes] == [False], report.outcomes
    assert report.failures[0].suite == suite_name
    if config.type == "expect_column_pair_values_to_be_equal":
        key = "id" if "id" in frames[suite_name].columns else "customer_id"
        assert f"{key} {frames[suite_name].loc[0, key]}" in report.failures[0].detail, (
            "names the row, so an operator can find the customer"
        )


def test_a_missing_frame_is_a_failure(tmp_path: Path) -> None:
    report = run_suites({}, [Suite("rm_customers", [])], tmp_path / "gx", build_docs=False)
    assert not report.success and report.failures[0].detail == "no data"
