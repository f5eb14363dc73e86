"""What the read API returns: frozen values shaped after the GraphQL contract.

Field names are the contract's in snake_case; the gateway maps them one to one and
decides, per role, whether personal fields (name, email, phone, address, free texts)
are shown. They are already None for a forgotten customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from events.vocabulary import PIPELINE_STAGES
from projections.custom_field_list import CustomFieldCondition
from projections.vocabulary import LIFECYCLE_STAGES, TIERS


@dataclass(frozen=True)
class PurchaseSummary:
    count: int
    total: Decimal
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True)
class ChannelCount:
    channel: str
    count: int


@dataclass(frozen=True)
class TouchSummary:
    count: int
    last_at: datetime | None
    by_channel: tuple[ChannelCount, ...]


@dataclass(frozen=True)
class Consent:
    purpose: str
    channel: str | None
    granted: bool
    changed_at: datetime


@dataclass(frozen=True)
class Need:
    need_id: str
    description: str | None
    product_interest: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class SurveyAnswer:
    survey_id: str
    score: int
    comment: str | None
    answered_at: datetime


@dataclass(frozen=True)
class CustomerView:
    """The 360° profile. For a survivor, purchases and touches include its duplicates'.

    The read model also keeps each customer's stage history and referrals (jsonb); no
    reader serves them, so views do not decode them (a list page reads 20 rows)."""

    id: UUID
    version: int
    name: str | None
    email: str | None
    phone: str | None
    address: str | None
    company: str | None
    industry: str | None
    region: str | None
    source: str | None
    owner: str | None
    referred_by: UUID | None
    tags: tuple[str, ...]
    stage: str
    lifecycle_stage: str
    tier: str
    purchases: PurchaseSummary
    touches: TouchSummary
    consents: tuple[Consent, ...]
    needs: tuple[Need, ...]
    surveys: tuple[SurveyAnswer, ...]
    merged_into: UUID | None
    merged_ids: tuple[UUID, ...]
    forgotten: bool
    forgotten_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_position: int
    lifecycle_reason: str = ""  # the rule that put it at `lifecycle_stage`, in words
    tier_reason: str = ""  # the purchases `tier` was decided on, in words
    # Custom field values by key (TEXT ones are personal: the gateway masks them by type).
    custom_values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ComplaintView:
    id: UUID
    customer_id: UUID
    category: str | None
    severity: str | None
    status: str
    description: str | None
    escalation_reason: str | None
    resolution: str | None
    satisfaction: int | None
    filed_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    version: int
    assignee: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    position: int
    type: str
    schema_version: int
    stream_id: UUID
    stream_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str | None
    data: Mapping[str, Any] = field(repr=False)
    event_id: str | None = None
    customer_id: UUID | None = None


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    reached: int
    conversion_from_previous: float | None


@dataclass(frozen=True)
class LifecycleCount:
    stage: str
    count: int


@dataclass(frozen=True)
class TierCount:
    tier: str
    count: int


@dataclass(frozen=True)
class CustomerFilter:
    """Every field optional; given ones must all hold. `text` matches name, email, phone
    or company (case-insensitive substring); `tag` is one tag the customer carries."""

    text: str | None = None
    tag: str | None = None
    tier: str | None = None
    lifecycle_stage: str | None = None
    stage: str | None = None
    region: str | None = None
    owner: str | None = None
    custom_fields: tuple[CustomFieldCondition, ...] = ()
    owners: frozenset[str] | None = None
    """The caller's scope (`gateway.scope`): only customers one of these owns; None: all."""

    def __post_init__(self) -> None:
        for name, allowed in (
            ("tier", TIERS),
            ("lifecycle_stage", LIFECYCLE_STAGES),
            ("stage", PIPELINE_STAGES),
        ):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"unknown {name} {value!r}")


class CustomerEdge(NamedTuple):
    cursor: str
    node: CustomerView


class CustomerPage(NamedTuple):
    rows: list[CustomerEdge]
    total_count: int
    has_next: bool
    end_cursor: str | None


class TimelineEdge(NamedTuple):
    cursor: str
    node: TimelineEntry


class TimelinePage(NamedTuple):
    rows: list[TimelineEdge]
    has_next: bool
    end_cursor: str | None
