"""Mutation inputs, and their translation into commands (`commands.messages`).

Every input has the contract's two optional fields, `idempotencyKey` (a retry with the
same key records nothing new) and `expectedVersion` (refuse the write if the stream
moved on). In `changeContactDetails` a field left out stays as it is and an explicit
null clears it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from aggregates.customer import UNSET as KEEP
from aggregates.validation import MAX_LINES, TAGS_PER_COMMAND, check_count
from commands import messages as m
from gateway.errors import invalid
from gateway.schema.enums import (
    Channel,
    CustomerOrderField,
    Direction,
    LifecycleStage,
    PipelineStage,
    Severity,
    SortDirection,
    Tier,
)
from gateway.schema.scalars import parse_id, parse_optional_id

IDEMPOTENCY = (
    "A retry with the same key (by the same caller) records nothing new and returns the "
    "first result; the key with another command is refused with CONFLICT on idempotencyKey."
)
EXPECTED = "Refuse the write (CONFLICT on expectedVersion) if the stream is at another version."


def _keep(value: Any) -> Any:
    """strawberry's "not given" as the command's "leave unchanged"."""
    return KEEP if value is strawberry.UNSET else value


@strawberry.input(
    description="One value to set: `value` for every type but MULTI_CHOICE, `values` for "
    "MULTI_CHOICE; neither (or null) clears the field."
)
class CustomFieldValueInput:
    key: str
    value: str | None = None
    values: list[str] | None = None


def value_pairs(
    values: list[CustomFieldValueInput] | None,
) -> tuple[tuple[str, str | tuple[str, ...] | None], ...]:
    """Custom field inputs as the commands take them: key -> value, choices or None."""
    pairs: list[tuple[str, str | tuple[str, ...] | None]] = []
    for given in values or ():
        if given.value is not None and given.values is not None:
            raise invalid("give `value` or `values`, not both", f"customFields.{given.key}")
        pairs.append((given.key, tuple(given.values) if given.values is not None else given.value))
    return tuple(pairs)


@strawberry.input
class RegisterCustomerInput:
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    industry: str | None = None
    region: str | None = None
    source: str | None = strawberry.field(
        default=None, description='Acquisition channel, e.g. "web", "referral", "trade-show".'
    )
    referred_by: strawberry.ID | None = None
    owner: str | None = None
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the new customer's id (imports); generated if absent."
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None,
        description="Custom field values recorded with the registration, checked like "
        "`setCustomFields` (required fields must then be set).",
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="Business time; defaults to now."
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RegisterCustomer:
        return m.RegisterCustomer(
            name=self.name,
            email=self.email,
            phone=self.phone,
            company=self.company,
            industry=self.industry,
            region=self.region,
            source=self.source,
            referred_by=parse_optional_id(self.referred_by, "referredBy"),
            owner=self.owner,
            customer_id=parse_optional_id(self.customer_id, "customerId"),
            custom_fields=value_pairs(self.custom_fields),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Only the fields given change; an explicit null clears one.")
class ChangeContactDetailsInput:
    customer_id: strawberry.ID
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.ChangeContactDetails:
        name = _keep(self.name)
        return m.ChangeContactDetails(
            customer_id=parse_id(self.customer_id, "customerId"),
            name="" if name is None else name,
            email=_keep(self.email),
            phone=_keep(self.phone),
            address=_keep(self.address),
            company=_keep(self.company),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class TagCustomerInput:
    customer_id: strawberry.ID
    add: list[str] | None = None
    remove: list[str] | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.TagCustomer:
        check_count(self.add or (), TAGS_PER_COMMAND, field="add")
        check_count(self.remove or (), TAGS_PER_COMMAND, field="remove")
        return m.TagCustomer(
            customer_id=parse_id(self.customer_id, "customerId"),
            add=tuple(self.add or ()),
            remove=tuple(self.remove or ()),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class RecordContactTouchInput:
    customer_id: strawberry.ID
    channel: Channel
    summary: str | None = None
    direction: Direction = Direction.OUTBOUND
    outcome: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RecordContactTouch:
        return m.RecordContactTouch(
            customer_id=parse_id(self.customer_id, "customerId"),
            channel=self.channel.value,
            direction=self.direction.value,
            summary=self.summary,
            outcome=self.outcome,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class PurchaseLineInput:
    sku: str
    quantity: int
    unit_price: Decimal


@strawberry.input
class RecordPurchaseInput:
    customer_id: strawberry.ID
    order_id: str
    lines: list[PurchaseLineInput]
    currency: str | None = "CNY"
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RecordPurchase:
        check_count(self.lines, MAX_LINES, field="lines")
        return m.RecordPurchase(
            customer_id=parse_id(self.customer_id, "customerId"),
            order_id=self.order_id,
            lines=tuple(
                m.PurchaseLineInput(
                    sku=line.sku, quantity=line.quantity, unit_price=line.unit_price
                )
                for line in self.lines
            ),
            currency="CNY" if self.currency is None else self.currency,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class MoveStageInput:
    customer_id: strawberry.ID
    to: PipelineStage
    reason: str | None = strawberry.field(default=None, description="Required to move back.")
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.MoveStage:
        return m.MoveStage(
            customer_id=parse_id(self.customer_id, "customerId"),
            to=self.to.value,
            reason=self.reason,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class FileComplaintInput:
    customer_id: strawberry.ID
    category: str
    severity: Severity
    description: str
    complaint_id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the new complaint's id; generated if absent."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.FileComplaint:
        return m.FileComplaint(
            customer_id=parse_id(self.customer_id, "customerId"),
            category=self.category,
            severity=self.severity.value,
            description=self.description,
            complaint_id=parse_optional_id(self.complaint_id, "complaintId"),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class ResolveComplaintInput:
    complaint_id: strawberry.ID
    resolution: str
    satisfaction: int | None = strawberry.field(default=None, description="1 to 5.")
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.ResolveComplaint:
        return m.ResolveComplaint(
            complaint_id=parse_id(self.complaint_id, "complaintId"),
            resolution=self.resolution,
            satisfaction=self.satisfaction,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class MergeCustomersInput:
    survivor_id: strawberry.ID
    duplicate_id: strawberry.ID
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(
        default=None, description="The survivor's version. " + EXPECTED
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.MergeCustomers:
        return m.MergeCustomers(
            survivor_id=parse_id(self.survivor_id, "survivorId"),
            duplicate_id=parse_id(self.duplicate_id, "duplicateId"),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class ForgetCustomerInput:
    customer_id: strawberry.ID
    reason: str
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.ForgetCustomer:
        return m.ForgetCustomer(
            customer_id=parse_id(self.customer_id, "customerId"),
            reason=self.reason,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(
    description="Customers whose custom field `key` equals `equals`, is one of `in` and lies "
    "in [`min`, `max`] (NUMBER and DATE): every part given must hold; a `key` alone keeps "
    "the customers with a value for it. For MULTI_CHOICE, "
    '`equals` means "has this choice". Equality and `in` use the jsonb GIN index; '
    "ranges are checked per row. "
    "TEXT fields are personal and cannot be filtered on."
)
class CustomFieldFilter:
    key: str
    equals: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    min: str | None = None
    max: str | None = None


@strawberry.input(
    description="Every field optional; the given ones must all hold. Text values are "
    "trimmed, and a blank one counts as not given (as in stored data, where blank means "
    "absent), for the list and its `totalCount` alike."
)
class CustomerFilter:
    text: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of name, email, phone or company, as "
        "users type it: a phone with spaces, dashes, dots or a +86/0086 prefix "
        "(`138 0013 8000`), a Chinese name in pinyin (`zhangsan`, `zhang san`) or by "
        "its initials (`zs`). Only for roles that may see personal data.",
    )
    tag: str | None = None
    tier: Tier | None = None
    lifecycle_stage: LifecycleStage | None = None
    stage: PipelineStage | None = None
    region: str | None = None
    owner: str | None = None
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None, description="Custom field conditions; all must hold."
    )


@strawberry.input(description="Order of a customer list; ties are broken by id.")
class CustomerOrder:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: SortDirection = SortDirection.ASC
