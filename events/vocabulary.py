"""The fixed words the facts are written in: channels, directions, stages, severities.

One definition each, here, because events carry these spellings (and their JSON
Schemas list them); aggregates validate against them, projections and their SQL
read them, and the gateway serves these very enums as the GraphQL enums. Adding a
stage or a channel is one edit in this file.

Each vocabulary is an `enum.Enum` (the GraphQL enum is built from it, and its class
name is the GraphQL name) plus a tuple of its plain strings in declaration order,
which is what the domain, the read models and the SQL use.
"""

from __future__ import annotations

import enum
from typing import Final


class Channel(enum.Enum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    VISIT = "VISIT"
    WECHAT = "WECHAT"
    SOCIAL = "SOCIAL"
    WEB = "WEB"
    OTHER = "OTHER"


class Direction(enum.Enum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class PipelineStage(enum.Enum):
    """The ordered path LEAD..WON, then LOST (off the path: it never advances the funnel)."""

    LEAD = "LEAD"
    CONTACTED = "CONTACTED"
    QUALIFIED = "QUALIFIED"
    PROPOSAL = "PROPOSAL"
    QUOTE = "QUOTE"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"


class Severity(enum.Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class ComplaintStatus(enum.Enum):
    """What a complaint's events (filed, escalated, resolved) leave it as."""

    OPEN = "OPEN"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"


class TaskKind(enum.Enum):
    """What a follow-up task asks for (定期回访: CARE_CALL is the regular care call)."""

    CALL_BACK = "CALL_BACK"
    VISIT = "VISIT"
    QUOTE_FOLLOW_UP = "QUOTE_FOLLOW_UP"
    CARE_CALL = "CARE_CALL"


class TaskStatus(enum.Enum):
    """What a task's events leave it as: OPEN until due, then OVERDUE (the scheduler's
    `TaskFellDue`); DONE and CANCELLED are final. Rescheduling makes it OPEN again."""

    OPEN = "OPEN"
    OVERDUE = "OVERDUE"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class CustomFieldType(enum.Enum):
    """What a custom field holds (an admin picks one when defining the field)."""

    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    SINGLE_CHOICE = "SINGLE_CHOICE"
    MULTI_CHOICE = "MULTI_CHOICE"


def words(vocabulary: type[enum.Enum]) -> tuple[str, ...]:
    """The values of an enum of strings, in declaration order."""
    return tuple(str(member.value) for member in vocabulary)


CHANNELS: Final = words(Channel)
DIRECTIONS: Final = words(Direction)

LEAD: Final = PipelineStage.LEAD.value
WON: Final = PipelineStage.WON.value
LOST: Final = PipelineStage.LOST.value
PIPELINE_STAGES: Final = words(PipelineStage)
"""Every stage a customer can be at, LOST included."""
PIPELINE_PATH: Final = tuple(stage for stage in PIPELINE_STAGES if stage != LOST)
"""The ordered path of the funnel, LEAD first and WON last."""
_OPPORTUNITY: Final = (
    PipelineStage.QUALIFIED,
    PipelineStage.PROPOSAL,
    PipelineStage.QUOTE,
    PipelineStage.NEGOTIATION,
)
OPPORTUNITY_STAGES: Final = tuple(stage.value for stage in _OPPORTUNITY)
"""The RULES.md default for "in the pipeline" (lifecycle stage OPPORTUNITY); configurable."""

SEVERITIES: Final = words(Severity)
CRITICAL: Final = Severity.CRITICAL.value

COMPLAINT_STATUSES: Final = words(ComplaintStatus)
OPEN: Final = ComplaintStatus.OPEN.value
ESCALATED: Final = ComplaintStatus.ESCALATED.value
RESOLVED: Final = ComplaintStatus.RESOLVED.value


class LifecycleStage(enum.Enum):
    """Where a customer stands (RULES.md "Lifecycle stage"): derived from the facts by the
    projections, and a fact itself once time moves it (`LifecycleStageChanged`)."""

    PROSPECT = "PROSPECT"
    OPPORTUNITY = "OPPORTUNITY"
    NEW_CUSTOMER = "NEW_CUSTOMER"
    REPEAT_CUSTOMER = "REPEAT_CUSTOMER"
    LOYAL = "LOYAL"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


class Tier(enum.Enum):
    """Purchases in the last 365 days (RULES.md "Tier"); a fact once `TierChanged`."""

    VIP = "VIP"
    GOLD = "GOLD"
    SILVER = "SILVER"
    BRONZE = "BRONZE"


LIFECYCLE_STAGES: Final = words(LifecycleStage)
TIERS: Final = words(Tier)

TASK_KINDS: Final = words(TaskKind)
CUSTOM_FIELD_TYPES: Final = words(CustomFieldType)
TASK_STATUSES: Final = words(TaskStatus)
