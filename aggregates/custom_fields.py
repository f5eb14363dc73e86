"""Custom fields: the catalog of an admin's definitions, and the rule for a customer's values.

The catalog is one aggregate (one stream, `CATALOG_ID`) holding every definition, so
the command that sets a customer's values loads one stream to know them all, and a key
is unique because the catalog refuses a second definition of it. A key is defined
once for good: retiring hides it from new values but never frees it for another type
(old events and analytics would read the new type into the old values).

`check_values` is the one place a customer's values are judged (`Customer` calls it
with the catalog's definitions): unknown or retired key, wrong type, a choice not in
the list, a required field left empty. Each refusal names ``customFields.<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import singledispatchmethod
from typing import Any, Final, Self
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.errors import NotFound, RuleViolated, ValidationFailed
from aggregates.labels import check_no_contact_data
from aggregates.validation import SHORT_TEXT_MAX, check_bool, check_choice, require_text
from events import CrmEvent, CustomFieldCatalogCreated, CustomFieldDefined, CustomFieldRetired
from events.vocabulary import CUSTOM_FIELD_TYPES, CustomFieldType

__all__ = [
    "CATALOG_ID",
    "CustomFieldCatalog",
    "FieldDefinition",
    "Value",
    "canonical_value",
    "check_values",
]

CATALOG_ID: Final = uuid5(UUID("6f1c3c2e-8d7b-4b8e-9a57-6c1d0e5f4a10"), "custom-field-catalog")
"""The catalog's stream id: the same in every deployment."""

TEXT: Final = CustomFieldType.TEXT.value
NUMBER: Final = CustomFieldType.NUMBER.value
DATE: Final = CustomFieldType.DATE.value
SINGLE: Final = CustomFieldType.SINGLE_CHOICE.value
MULTI: Final = CustomFieldType.MULTI_CHOICE.value
CHOICE_TYPES: Final = frozenset({SINGLE, MULTI})

KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,49}")
MAX_FIELDS: Final = 200
MAX_CHOICES: Final = 100
CHOICE_MAX: Final = 100
TEXT_VALUE_MAX: Final = 2000
NUMBER_MAX: Final = Decimal("1e10")
"""NUMBER values stay readable without the customer's key (filters, analytics), so they
may not carry a phone number: 11 or more integer digits are refused, as in labels."""
NUMBER_PLACES: Final = 6
VALUES_PER_COMMAND: Final = 100

Value = str | list[str] | None
"""A stored value: TEXT, NUMBER (decimal text), DATE (ISO), a choice, or sorted choices."""


@dataclass(frozen=True)
class FieldDefinition:
    key: str
    label: str
    field_type: str
    choices: tuple[str, ...]
    required: bool
    retired: bool = False


def check_key(value: object, *, field: str = "key") -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value.strip()):
        raise ValidationFailed(
            f"{field} must be snake case: a lower-case letter, then letters, digits or _ "
            "(at most 50)",
            field=field,
        )
    return value.strip()


def check_choices(field_type: str, choices: Sequence[object]) -> list[str]:
    """Choice types need 1 to 100 distinct choices; other types take none."""
    if field_type not in CHOICE_TYPES:
        if choices:
            raise ValidationFailed(f"a {field_type} field has no choices", field="choices")
        return []
    if not choices:
        raise ValidationFailed(f"a {field_type} field needs its choices", field="choices")
    if len(choices) > MAX_CHOICES:
        raise ValidationFailed(f"at most {MAX_CHOICES} choices", field="choices")
    found: list[str] = []
    for index, choice in enumerate(choices):
        name = f"choices[{index}]"
        text = require_text(choice, field=name, max_length=CHOICE_MAX, multiline=False)
        check_no_contact_data(text, field=name)  # a choice is readable after an erasure
        if text in found:
            raise ValidationFailed(f"choice {text!r} is listed twice", field=name)
        found.append(text)
    return found


class CustomFieldCatalog(Aggregate):
    """Every custom field definition, by key."""

    @classmethod
    def start(cls, *, at: Any) -> Self:
        return cls._create(CustomFieldCatalogCreated, id=CATALOG_ID, timestamp=at)

    def define(
        self,
        *,
        key: object,
        label: object,
        field_type: object,
        choices: Sequence[object],
        required: object,
        at: Any,
    ) -> None:
        name = check_key(key)
        text = require_text(label, field="label", max_length=SHORT_TEXT_MAX, multiline=False)
        kind = check_choice(field_type, CUSTOM_FIELD_TYPES, field="type")
        listed = check_choices(kind, choices)
        needed = check_bool(required, field="required")
        if name in self.fields:
            raise RuleViolated(f"custom field {name!r} is already defined", field="key")
        if len(self.fields) >= MAX_FIELDS:
            raise RuleViolated(f"at most {MAX_FIELDS} custom fields", field="key")
        self.trigger_event(
            CustomFieldDefined,
            timestamp=at,
            key=name,
            label=text,
            field_type=kind,
            choices=listed,
            required=needed,
        )

    def retire(self, *, key: object, at: Any) -> None:
        name = check_key(key)
        found = self.fields.get(name)
        if found is None:
            raise NotFound(f"no custom field {name!r}", field="key")
        if found.retired:
            raise RuleViolated(f"custom field {name!r} is already retired", field="key")
        self.trigger_event(CustomFieldRetired, timestamp=at, key=name)

    @singledispatchmethod
    def when(self, event: CrmEvent) -> None:
        raise TypeError(f"{type(self).__name__} cannot apply {type(event).__name__}")

    @when.register
    def _created(self, event: CustomFieldCatalogCreated) -> None:
        self.fields: dict[str, FieldDefinition] = {}

    @when.register
    def _defined(self, event: CustomFieldDefined) -> None:
        self.fields = {
            **self.fields,
            event.key: FieldDefinition(
                event.key, event.label, event.field_type, tuple(event.choices), event.required
            ),
        }

    @when.register
    def _retired(self, event: CustomFieldRetired) -> None:
        old = self.fields[event.key]
        self.fields = {**self.fields, event.key: FieldDefinition(**{**vars(old), "retired": True})}


# ------------------------------------------------------------------------- values


def _number(raw: object, field: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ValidationFailed(f"{field} must be a number", field=field)
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a number", field=field) from None
    if not number.is_finite() or abs(number) >= NUMBER_MAX:
        raise ValidationFailed(
            f"{field} must be a number below 1e10 (11 digits could be a phone number)",
            field=field,
        )
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > NUMBER_PLACES:
        raise ValidationFailed(f"{field} has more than {NUMBER_PLACES} decimals", field=field)
    return format(number.normalize(), "f")  # "12.50" and "12.5" are the same value


def _date(raw: object, field: str) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD)", field=field)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationFailed(f"{field} is not a calendar date", field=field) from None


def _choice(raw: object, choices: tuple[str, ...], field: str) -> str:
    if not isinstance(raw, str) or raw.strip() not in choices:
        raise ValidationFailed(f"{field} must be one of {', '.join(choices)}", field=field)
    return raw.strip()


def canonical_value(definition: FieldDefinition, raw: object, field: str) -> Value:
    """The canonical value of `raw` for this field, or None when it clears the field."""
    if raw is None or raw == "" or raw == []:
        return None
    kind = definition.field_type
    if kind == MULTI:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            raise ValidationFailed(f"{field} must be a list of choices", field=field)
        return sorted({_choice(item, definition.choices, field) for item in items})
    if isinstance(raw, list | tuple):
        raise ValidationFailed(f"{field} takes one value, not a list", field=field)
    if kind == TEXT:
        return require_text(raw, field=field, max_length=TEXT_VALUE_MAX)
    if kind == NUMBER:
        return _number(raw, field)
    if kind == DATE:
        return _date(raw, field)
    return _choice(raw, definition.choices, field)


def check_values(
    given: Mapping[str, object],
    current: Mapping[str, Value],
    definitions: Mapping[str, FieldDefinition],
) -> dict[str, Value]:
    """The customer's values after applying `given` (key -> raw value; None clears) to
    `current`, each checked against its definition; raises on the first refusal."""
    if len(given) > VALUES_PER_COMMAND:
        raise ValidationFailed(f"at most {VALUES_PER_COMMAND} values at once", field="customFields")
    after = dict(current)
    for key, raw in given.items():
        field = f"customFields.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise ValidationFailed(f"{key!r} is not a defined custom field", field=field)
        if definition.retired:
            raise RuleViolated(f"custom field {key!r} is retired", field=field)
        value = canonical_value(definition, raw, field)
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    for key, definition in definitions.items():
        if definition.required and not definition.retired and key not in after:
            raise ValidationFailed(
                f"custom field {key!r} ({definition.label}) is required",
                field=f"customFields.{key}",
            )
    return after
