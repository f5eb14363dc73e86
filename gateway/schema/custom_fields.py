"""Custom fields in the contract: the definitions (`customFields`), a customer's values
(`Customer.customFields`), the list filter, and the inputs and payload of the three
mutations (`defineCustomField` and `retireCustomField` for admins, `setCustomFields`).

Values travel as text: NUMBER a decimal string, DATE ``YYYY-MM-DD``, a choice its
label; MULTI_CHOICE in `values`. TEXT values are personal free text: null for a role
without personal data access and once the customer is forgotten, noted in the access
log when returned, never filterable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import strawberry
from anyio import to_thread
from strawberry.types import Info

from aggregates.custom_fields import CATALOG_ID, FieldDefinition, canonical_value
from aggregates.errors import DomainError
from commands import messages as m
from gateway.access import returned_personal
from gateway.context import GatewayContext
from gateway.errors import invalid
from gateway.schema.enums import CustomFieldType
from gateway.schema.inputs import (
    EXPECTED,
    IDEMPOTENCY,
    CustomFieldFilter,
    CustomFieldValueInput,
    value_pairs,
)
from gateway.schema.scalars import parse_id
from projections.custom_field_list import CustomFieldCondition, DefinitionView
from projections.views import CustomerView

GInfo = Info[GatewayContext, None]
TEXT = CustomFieldType.TEXT.value
MULTI = CustomFieldType.MULTI_CHOICE.value
MAX_FILTERS = 10


@strawberry.type(description="A custom field an admin defined.")
class CustomFieldDefinition:
    key: str = strawberry.field(description="Snake case, unique for good.")
    label: str
    type: CustomFieldType
    choices: list[str] = strawberry.field(description="For the choice types; else empty.")
    required: bool = strawberry.field(
        description="Every write of custom fields must leave it set (registering a customer "
        "without custom fields does not)."
    )
    retired: bool = strawberry.field(description="Takes no new values; old ones stay.")
    defined_at: datetime | None
    defined_by: str | None


def definition_of(view: DefinitionView) -> CustomFieldDefinition:
    return CustomFieldDefinition(
        key=view.key,
        label=view.label,
        type=CustomFieldType(view.field_type),
        choices=list(view.choices),
        required=view.required,
        retired=view.retired,
        defined_at=view.defined_at,
        defined_by=view.defined_by,
    )


@strawberry.type(description="One custom field value of a customer.")
class CustomFieldValue:
    key: str
    label: str
    type: CustomFieldType
    value: str | None = strawberry.field(
        description="The value (not for MULTI_CHOICE); TEXT is personal: null without access."
    )
    values: list[str] = strawberry.field(
        description="MULTI_CHOICE: the choices; other types: the value alone (empty if masked)."
    )


def values_of(
    info: GInfo, view: CustomerView, definitions: Sequence[DefinitionView], personal: bool
) -> list[CustomFieldValue]:
    """The customer's set values, in definition order (retired fields keep showing)."""
    found: list[CustomFieldValue] = []
    for d in definitions:
        stored = view.custom_values.get(d.key)
        if stored is None:
            continue
        if d.field_type == TEXT:
            field = f"customFields.{d.key}"
            text = returned_personal(info, view.id, field, str(stored), personal)
            value, values = text, [] if text is None else [text]
        elif isinstance(stored, list):
            value, values = None, [str(v) for v in stored]
        else:
            value, values = str(stored), [str(stored)]
        kind = CustomFieldType(d.field_type)
        found.append(
            CustomFieldValue(key=d.key, label=d.label, type=kind, value=value, values=values)
        )
    return found


# ------------------------------------------------------------------------------- inputs


@strawberry.input(description="Define a custom field (admin).")
class DefineCustomFieldInput:
    key: str = strawberry.field(description="Snake case (`contract_end`), unique for good.")
    label: str = strawberry.field(description="What screens show (`合同到期日`).")
    type: CustomFieldType
    choices: list[str] | None = strawberry.field(
        default=None, description="Required for the choice types; none for the others."
    )
    required: bool = False
    expected_version: int | None = strawberry.field(
        default=None, description=EXPECTED + " (the catalog of definitions: one stream)"
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.DefineCustomField:
        return m.DefineCustomField(
            key=self.key,
            label=self.label,
            field_type=self.type.value,
            choices=tuple(self.choices or ()),
            required=self.required,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Retire a custom field (admin): no new values, old ones stay.")
class RetireCustomFieldInput:
    key: str
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RetireCustomField:
        return m.RetireCustomField(
            key=self.key,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(
    description="Set custom field values of a customer. Each value is checked against its "
    "definition: VALIDATION on `customFields.<key>` for an unknown key, a wrong type, a "
    "choice not in the list or a required field left empty; RULE for a retired field."
)
class SetCustomFieldsInput:
    customer_id: strawberry.ID
    values: list[CustomFieldValueInput]
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.SetCustomFields:
        return m.SetCustomFields(
            customer_id=parse_id(self.customer_id, "customerId"),
            values=value_pairs(self.values),
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


def conditions_of(
    given: Sequence[CustomFieldFilter], definitions: Sequence[DefinitionView]
) -> tuple[CustomFieldCondition, ...]:
    """The filters as read-side conditions, values made canonical (as stored)."""
    if len(given) > MAX_FILTERS:
        raise invalid(f"at most {MAX_FILTERS} custom field filters", "filter.customFields")
    by_key = {d.key: d for d in definitions}
    found: list[CustomFieldCondition] = []
    for n, f in enumerate(given):
        where = f"filter.customFields[{n}]"
        d = by_key.get(f.key)
        if d is None:
            raise invalid(f"{f.key!r} is not a defined custom field", f"{where}.key")
        if d.field_type == TEXT:
            raise invalid(f"{f.key!r} is a TEXT field: personal, not filterable", f"{where}.key")
        if f.in_ is not None and not f.in_:
            raise invalid("in must name at least one value (leave it out for any)", f"{where}.in")
        if (f.min is not None or f.max is not None) and d.field_type not in ("NUMBER", "DATE"):
            raise invalid("min and max are for NUMBER and DATE fields", f"{where}.min")
        definition = FieldDefinition(d.key, d.label, d.field_type, d.choices, False)
        # One value at a time: a MULTI_CHOICE filter value is one choice.
        single = (
            dataclasses.replace(definition, field_type="SINGLE_CHOICE")
            if d.field_type == MULTI
            else definition
        )

        def canonical(
            raw: str | None, part: str, *, one: FieldDefinition = single, at: str = where
        ) -> Any:
            if raw is None:
                return None
            try:
                return canonical_value(one, raw, f"{at}.{part}")
            except DomainError as error:
                raise invalid(error.message, error.field) from None

        found.append(
            CustomFieldCondition(
                key=d.key,
                field_type=d.field_type,
                equals=canonical(f.equals, "equals"),
                one_of=tuple(canonical(v, "in") for v in f.in_ or ()),
                low=canonical(f.min, "min"),
                high=canonical(f.max, "max"),
            )
        )
    return tuple(found)


# ------------------------------------------------------------------------------ payload


@strawberry.type
class CustomFieldPayload:
    key: str
    position: int = strawberry.field(description="Global position of the command's last event.")
    version: int = strawberry.field(description="Version of the catalog of definitions.")

    @strawberry.field(description="The definition as the write side holds it now.")
    async def definition(self, info: GInfo) -> CustomFieldDefinition | None:
        app = info.context.deps.app
        fields: Mapping[str, FieldDefinition] = await to_thread.run_sync(
            lambda: app.repository.get(CATALOG_ID).fields
        )
        found = fields.get(self.key)
        if found is None:
            return None
        return CustomFieldDefinition(
            key=found.key,
            label=found.label,
            type=CustomFieldType(found.field_type),
            choices=list(found.choices),
            required=found.required,
            retired=found.retired,
            defined_at=None,
            defined_by=None,
        )
