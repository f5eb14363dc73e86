"""Each vocabulary has one definition, and everything that speaks it says the same words.

`events.vocabulary` (the facts' words) and `projections.vocabulary` (lifecycle stage and
tier) are the definitions; the served GraphQL enums, the events' JSON Schemas, the
DuckDB catalog's funnel and the default policies must list exactly those words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLEnumType, build_schema

from aggregates import Policy
from events import ComplaintFiled, ContactTouchRecorded, StageMoved
from events.vocabulary import (
    CHANNELS,
    COMPLAINT_STATUSES,
    DIRECTIONS,
    LOST,
    OPPORTUNITY_STAGES,
    PIPELINE_PATH,
    PIPELINE_STAGES,
    SEVERITIES,
)
from gateway.schema import build_schema as build_served
from projections.analytics.catalog import connect, write_catalog
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.parquet import ensure_datasets
from projections.derived import DEFAULT_THRESHOLDS
from projections.vocabulary import LIFECYCLE_STAGES, TIERS

GRAPHQL_ENUMS = {
    "Channel": CHANNELS,
    "Direction": DIRECTIONS,
    "PipelineStage": PIPELINE_STAGES,
    "Severity": SEVERITIES,
    "ComplaintStatus": COMPLAINT_STATUSES,
    "LifecycleStage": LIFECYCLE_STAGES,
    "Tier": TIERS,
}


@pytest.mark.parametrize(("name", "words"), GRAPHQL_ENUMS.items())
def test_the_served_graphql_enum_is_the_vocabulary(name: str, words: tuple[str, ...]) -> None:
    served = build_schema(build_served().as_str()).get_type(name)
    assert isinstance(served, GraphQLEnumType)
    assert tuple(served.values) == words


def test_the_event_schemas_list_the_vocabulary() -> None:
    assert StageMoved.FIELD_SCHEMAS["to_stage"] == {"enum": list(PIPELINE_STAGES)}
    assert ContactTouchRecorded.FIELD_SCHEMAS["channel"] == {"enum": list(CHANNELS)}
    assert ContactTouchRecorded.FIELD_SCHEMAS["direction"] == {"enum": list(DIRECTIONS)}
    assert ComplaintFiled.FIELD_SCHEMAS["severity"] == {"enum": list(SEVERITIES)}


def test_the_funnel_path_is_every_stage_but_lost() -> None:
    assert (*PIPELINE_PATH, LOST) == PIPELINE_STAGES
    assert set(OPPORTUNITY_STAGES) < set(PIPELINE_PATH)


def test_write_and_read_side_defaults_agree() -> None:
    policy = Policy.default()
    assert policy.stages == PIPELINE_PATH
    assert policy.lost_stage == LOST
    # The lifecycle thresholds live only in the read side's `Thresholds` (issue 13); the
    # write side's won stage is the stage that makes a customer there.
    assert policy.won_stage == DEFAULT_THRESHOLDS.customer_stage


def test_the_analytics_catalog_funnel_walks_the_pipeline_path(tmp_path: Path) -> None:
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    write_catalog(layout)
    with connect(layout) as con:
        rows = con.execute("SELECT stage FROM funnel ORDER BY rank").fetchall()
    assert tuple(stage for (stage,) in rows) == PIPELINE_PATH
