"""The contract's enums. The domain's are the vocabularies themselves, served as they are.

`Channel`, `PipelineStage`, … are the enums of `events.vocabulary` (the words of the
facts) and `projections.vocabulary` (lifecycle stage and tier), registered with
strawberry here, so a new stage or channel is one edit there and the GraphQL enum
follows. Only the gateway's own enums (ordering) are defined in this module.
"""

from __future__ import annotations

import enum

import strawberry

from events.vocabulary import (
    Channel,
    ComplaintStatus,
    CustomFieldType,
    Direction,
    PipelineStage,
    Severity,
    TaskKind,
    TaskStatus,
)
from projections.timeline_kinds import TimelineKind
from projections.vocabulary import LifecycleStage, Tier

__all__ = [
    "Channel",
    "ComplaintStatus",
    "CustomFieldType",
    "CustomerOrderField",
    "Direction",
    "LifecycleStage",
    "PipelineStage",
    "Severity",
    "SortDirection",
    "TaskKind",
    "TaskStatus",
    "Tier",
    "TimelineKind",
]

# Registration attaches the GraphQL definition to the class and returns it unchanged.
for _vocabulary in (
    Channel,
    Direction,
    PipelineStage,
    LifecycleStage,
    Tier,
    ComplaintStatus,
    Severity,
    TaskKind,
    TaskStatus,
):
    strawberry.enum(_vocabulary)
strawberry.enum(
    CustomFieldType,
    description="What a custom field holds. TEXT is personal free text (sealed, erased by "
    "forget, not filterable); NUMBER a decimal; DATE a calendar day; the choice types "
    "one or several of the field's choices.",
)
strawberry.enum(
    TimelineKind,
    description="What a timeline entry records; each kind has its own entry type. TAGGED "
    "covers tags added and removed, MERGE both sides of a merge, LIFECYCLE_CHANGE the "
    "scheduler's lifecycle-stage and tier changes, TASK every step of a follow-up task, "
    "CUSTOM_FIELDS custom field values set or cleared.",
)


@strawberry.enum(
    description="What a customer list is ordered by (ties broken by id). NAME sorts by "
    "the name's toneless pinyin, so Chinese names fall among Latin ones as a Chinese "
    "reader expects (张三 as `zhang san`)."
)
class CustomerOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    NAME = "NAME"


@strawberry.enum
class SortDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"
