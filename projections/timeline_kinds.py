"""What kind of timeline entry each event type is: the words a CRM screen filters by.

One enum (served as the GraphQL `TimelineKind`) and one table from event type to kind.
Several event types can share a kind: tagging and untagging are both TAGGED, both sides
of a merge are MERGE, time-driven lifecycle and tier changes are LIFECYCLE_CHANGE, and
every step of a follow-up task (scheduled, rescheduled, fell due, done, cancelled) is TASK.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

from events import (
    ALL_EVENTS,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    ConfigurationFact,
    ConsentChanged,
    ContactDetailsChanged,
    ContactTouchRecorded,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    CustomFieldsChanged,
    DuplicateMerged,
    LifecycleStageChanged,
    NeedRecorded,
    NoteAdded,
    OwnerAssigned,
    PurchaseRecorded,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
    StageMoved,
    TaskCancelled,
    TaskCompleted,
    TaskFellDue,
    TaskRescheduled,
    TaskScheduled,
    TierChanged,
)


class TimelineKind(enum.Enum):
    REGISTERED = "REGISTERED"
    DETAILS_CHANGED = "DETAILS_CHANGED"
    TAGGED = "TAGGED"
    PURCHASE = "PURCHASE"
    TOUCH = "TOUCH"
    NEED = "NEED"
    COMPLAINT_FILED = "COMPLAINT_FILED"
    COMPLAINT_ESCALATED = "COMPLAINT_ESCALATED"
    COMPLAINT_ASSIGNED = "COMPLAINT_ASSIGNED"
    COMPLAINT_RESOLVED = "COMPLAINT_RESOLVED"
    STAGE_MOVE = "STAGE_MOVE"
    LIFECYCLE_CHANGE = "LIFECYCLE_CHANGE"
    SURVEY = "SURVEY"
    CONSENT = "CONSENT"
    OWNER_CHANGE = "OWNER_CHANGE"
    MERGE = "MERGE"
    FORGOTTEN = "FORGOTTEN"
    REFERRAL = "REFERRAL"
    NOTE = "NOTE"
    TASK = "TASK"
    CUSTOM_FIELDS = "CUSTOM_FIELDS"


K = TimelineKind

KIND_OF_TYPE: Final[dict[str, TimelineKind]] = {
    CustomerRegistered.TYPE: K.REGISTERED,
    ContactDetailsChanged.TYPE: K.DETAILS_CHANGED,
    CustomerTagged.TYPE: K.TAGGED,
    CustomerUntagged.TYPE: K.TAGGED,
    PurchaseRecorded.TYPE: K.PURCHASE,
    ContactTouchRecorded.TYPE: K.TOUCH,
    NeedRecorded.TYPE: K.NEED,
    ComplaintFiled.TYPE: K.COMPLAINT_FILED,
    ComplaintEscalated.TYPE: K.COMPLAINT_ESCALATED,
    ComplaintAssigned.TYPE: K.COMPLAINT_ASSIGNED,
    ComplaintResolved.TYPE: K.COMPLAINT_RESOLVED,
    StageMoved.TYPE: K.STAGE_MOVE,
    LifecycleStageChanged.TYPE: K.LIFECYCLE_CHANGE,
    TierChanged.TYPE: K.LIFECYCLE_CHANGE,
    SatisfactionSurveyAnswered.TYPE: K.SURVEY,
    ConsentChanged.TYPE: K.CONSENT,
    OwnerAssigned.TYPE: K.OWNER_CHANGE,
    CustomerMerged.TYPE: K.MERGE,
    DuplicateMerged.TYPE: K.MERGE,
    CustomerForgotten.TYPE: K.FORGOTTEN,
    ReferralRecorded.TYPE: K.REFERRAL,
    NoteAdded.TYPE: K.NOTE,
    TaskScheduled.TYPE: K.TASK,
    TaskRescheduled.TYPE: K.TASK,
    TaskFellDue.TYPE: K.TASK,
    TaskCompleted.TYPE: K.TASK,
    TaskCancelled.TYPE: K.TASK,
    CustomFieldsChanged.TYPE: K.CUSTOM_FIELDS,
}
"""Every event type of `events.ALL_EVENTS` about a customer (a unit test checks none is
missing); configuration facts (`CUSTOMER_EVENT_TYPES` leaves them out) have no timeline."""

CUSTOMER_EVENT_TYPES: Final = frozenset(
    cls.TYPE for cls in ALL_EVENTS if not issubclass(cls, ConfigurationFact)
)

_VERSIONS: Final = {cls.TYPE: getattr(cls, "class_version", 1) for cls in ALL_EVENTS}


def stored_types(kinds: Iterable[TimelineKind]) -> list[str]:
    """The versioned type names rm_timeline holds for these kinds (every version).

    A filter on kinds becomes `type = ANY(...)` over exact names: no pattern matching,
    and the customer's (customer_id, position) index still drives the walk.
    """
    wanted = set(kinds)
    return sorted(
        f"{type_name}.v{version}"
        for type_name, kind in KIND_OF_TYPE.items()
        if kind in wanted
        for version in range(1, _VERSIONS[type_name] + 1)
    )
