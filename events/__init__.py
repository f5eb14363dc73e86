"""Every event type of the platform, and a registry by CloudEvents type.

Imports nothing of the project: events are the facts everything else builds on.
"""

from __future__ import annotations

from events.base import ConfigurationFact, CrmCreated, CrmEvent, CustomerScoped
from events.complaint import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
)
from events.custom_field import (
    CustomFieldCatalogCreated,
    CustomFieldDefined,
    CustomFieldRetired,
    CustomFieldsChanged,
)
from events.customer import (
    ConsentChanged,
    ContactDetailsChanged,
    ContactTouchRecorded,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    DuplicateMerged,
    LifecycleStageChanged,
    NeedRecorded,
    NoteAdded,
    OwnerAssigned,
    PurchaseRecorded,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
    StageMoved,
    TierChanged,
)
from events.task import (
    TaskCancelled,
    TaskCompleted,
    TaskFellDue,
    TaskRescheduled,
    TaskScheduled,
)

ALL_EVENTS: tuple[type[CrmEvent], ...] = (
    CustomerRegistered,
    ContactDetailsChanged,
    CustomerTagged,
    CustomerUntagged,
    ContactTouchRecorded,
    NeedRecorded,
    NoteAdded,
    PurchaseRecorded,
    StageMoved,
    OwnerAssigned,
    ConsentChanged,
    SatisfactionSurveyAnswered,
    ReferralRecorded,
    CustomerMerged,
    DuplicateMerged,
    CustomerForgotten,
    LifecycleStageChanged,
    TierChanged,
    ComplaintFiled,
    ComplaintEscalated,
    ComplaintAssigned,
    ComplaintResolved,
    TaskScheduled,
    TaskRescheduled,
    TaskFellDue,
    TaskCompleted,
    TaskCancelled,
    CustomFieldCatalogCreated,
    CustomFieldDefined,
    CustomFieldRetired,
    CustomFieldsChanged,
)

BY_TYPE: dict[str, type[CrmEvent]] = {cls.TYPE: cls for cls in ALL_EVENTS}

__all__ = [
    "ALL_EVENTS",
    "BY_TYPE",
    "ComplaintAssigned",
    "ComplaintEscalated",
    "ComplaintFiled",
    "ComplaintResolved",
    "ConfigurationFact",
    "ConsentChanged",
    "ContactDetailsChanged",
    "ContactTouchRecorded",
    "CrmCreated",
    "CrmEvent",
    "CustomFieldCatalogCreated",
    "CustomFieldDefined",
    "CustomFieldRetired",
    "CustomFieldsChanged",
    "CustomerForgotten",
    "CustomerMerged",
    "CustomerRegistered",
    "CustomerScoped",
    "CustomerTagged",
    "CustomerUntagged",
    "DuplicateMerged",
    "LifecycleStageChanged",
    "NeedRecorded",
    "NoteAdded",
    "OwnerAssigned",
    "PurchaseRecorded",
    "ReferralRecorded",
    "SatisfactionSurveyAnswered",
    "StageMoved",
    "TaskCancelled",
    "TaskCompleted",
    "TaskFellDue",
    "TaskRescheduled",
    "TaskScheduled",
    "TierChanged",
]
