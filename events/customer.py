"""Facts about a customer. Money travels as decimal strings, never floats."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from events.base import CrmCreated, CrmEvent, enum_schema
from events.vocabulary import CHANNELS, DIRECTIONS, LIFECYCLE_STAGES, TIERS
from events.vocabulary import PIPELINE_STAGES as STAGES


class CustomerRegistered(CrmCreated):
    TYPE = "crm.customer.registered"
    PERSONAL = ("name", "email", "phone")
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    industry: str | None
    region: str | None
    source: str | None
    referred_by: UUID | None
    owner: str | None


class ContactDetailsChanged(CrmEvent):
    """Only the names in `changed` were changed; a changed field set to None was cleared."""

    TYPE = "crm.customer.contact_details_changed"
    PERSONAL = ("name", "email", "phone", "address")
    changed: list[str]
    name: str | None
    email: str | None
    phone: str | None
    address: str | None
    company: str | None


class CustomerTagged(CrmEvent):
    TYPE = "crm.customer.tagged"
    tags: list[str]


class CustomerUntagged(CrmEvent):
    TYPE = "crm.customer.untagged"
    tags: list[str]


class ContactTouchRecorded(CrmEvent):
    """v2 added `direction` and `outcome`; v1 touches were all outbound, outcome unknown.

    v3 seals `outcome` (free text, so it may hold personal data); v2 and older events
    carry it in clear, and read as None once the customer is forgotten (the mapper).
    """

    TYPE = "crm.customer.contact_touch_recorded"
    PERSONAL = ("summary", "outcome")
    class_version = 3
    ADDED_IN = {"direction": 2, "outcome": 2}
    FIELD_SCHEMAS = {"channel": enum_schema(CHANNELS), "direction": enum_schema(DIRECTIONS)}
    channel: str
    direction: str
    summary: str | None
    outcome: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["direction"] = "OUTBOUND"
        state["outcome"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Same fields: only where `outcome` is stored changed (sealed from v3)."""


class NeedRecorded(CrmEvent):
    """v2 seals `product_interest` (free text); v1 events carry it in clear, and read as
    None once the customer is forgotten (the mapper)."""

    TYPE = "crm.customer.need_recorded"
    PERSONAL = ("description", "product_interest")
    class_version = 2
    need_id: str
    description: str | None
    product_interest: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Same fields: only where `product_interest` is stored changed (sealed from v2)."""


class NoteAdded(CrmEvent):
    """A note on the customer, written by the event's actor (its author).

    The text is personal free text (whatever a salesperson types), so it is sealed under
    the customer's key and reads as None once the customer is forgotten."""

    TYPE = "crm.customer.note_added"
    PERSONAL = ("text",)
    note_id: str
    text: str | None


class PurchaseRecorded(CrmEvent):
    """v2 added currencies: v1 purchases were in CNY, so rate 1 and the same totals.

    `lines` items: {"sku", "quantity", "unit_price", "amount"} (amount = quantity × unit_price,
    in `currency`); `total` is in `currency`, `total_cny` in the base currency.
    """

    TYPE = "crm.customer.purchase_recorded"
    class_version = 2
    ADDED_IN = {"currency": 2, "rate_to_cny": 2, "total_cny": 2}
    FIELD_SCHEMAS = {
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "quantity", "unit_price", "amount"],
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": {"$ref": "#/$defs/decimal"},
                    "amount": {"$ref": "#/$defs/decimal"},
                },
            },
        },
        "rate_to_cny": {"$ref": "#/$defs/decimal"},
        "total": {"$ref": "#/$defs/decimal"},
        "total_cny": {"$ref": "#/$defs/decimal"},
    }
    order_id: str
    lines: list[dict[str, Any]]
    currency: str
    rate_to_cny: str
    total: str
    total_cny: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["currency"] = "CNY"
        state["rate_to_cny"] = "1"
        state["total_cny"] = state["total"]


class StageMoved(CrmEvent):
    TYPE = "crm.customer.stage_moved"
    PERSONAL = ("reason",)
    FIELD_SCHEMAS = {"from_stage": enum_schema(STAGES), "to_stage": enum_schema(STAGES)}
    from_stage: str
    to_stage: str
    reason: str | None


class OwnerAssigned(CrmEvent):
    """v2 added `reason` (why the customer was handed over); v1 events had none.

    The reason is free text, so it is sealed like the other reasons. v3 added `rule`: the
    assignment rule that chose the owner of a new lead (None: a person assigned it)."""

    TYPE = "crm.customer.owner_assigned"
    PERSONAL = ("reason",)
    class_version = 3
    ADDED_IN = {"reason": 2, "rule": 3}
    owner: str
    previous_owner: str | None
    reason: str | None
    rule: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["reason"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["rule"] = None


class ConsentChanged(CrmEvent):
    """Consent per purpose, e.g. purpose "marketing" on channel "EMAIL"."""

    TYPE = "crm.customer.consent_changed"
    FIELD_SCHEMAS = {"channel": enum_schema(CHANNELS, nullable=True)}
    purpose: str
    channel: str | None
    granted: bool


class SatisfactionSurveyAnswered(CrmEvent):
    TYPE = "crm.customer.satisfaction_survey_answered"
    PERSONAL = ("comment",)
    FIELD_SCHEMAS = {"score": {"type": "integer", "minimum": 1, "maximum": 5}}
    survey_id: str
    score: int
    comment: str | None


class ReferralRecorded(CrmEvent):
    """Recorded on the referrer: it brought in `referred_customer_id`."""

    TYPE = "crm.customer.referral_recorded"
    referred_customer_id: UUID


class CustomerMerged(CrmEvent):
    """Recorded on the duplicate, which is closed from now on."""

    TYPE = "crm.customer.merged"
    survivor_id: UUID


class DuplicateMerged(CrmEvent):
    """Recorded on the survivor, which now counts the duplicate's history too."""

    TYPE = "crm.customer.duplicate_merged"
    duplicate_id: UUID


class CustomerForgotten(CrmEvent):
    """Right to erasure: the customer's key is destroyed in the same transaction."""

    TYPE = "crm.customer.forgotten"
    reason: str


class LifecycleStageChanged(CrmEvent):
    """Time alone moved the lifecycle stage (day 91 after the last purchase: AT_RISK).

    Recorded by the scheduler (actor ``system:scheduler``) at the moment it saw the
    change; changes caused by other facts (a purchase) need no event of their own.
    `reason` names the rule that holds now.
    """

    TYPE = "crm.customer.lifecycle_stage_changed"
    FIELD_SCHEMAS = {
        "from_stage": enum_schema(LIFECYCLE_STAGES),
        "to_stage": enum_schema(LIFECYCLE_STAGES),
    }
    from_stage: str
    to_stage: str
    reason: str


class TierChanged(CrmEvent):
    """Time alone moved the tier (a purchase left, or a back-dated one entered, the
    365-day window); recorded by the scheduler like `LifecycleStageChanged`."""

    TYPE = "crm.customer.tier_changed"
    FIELD_SCHEMAS = {"from_tier": enum_schema(TIERS), "to_tier": enum_schema(TIERS)}
    from_tier: str
    to_tier: str
    reason: str
