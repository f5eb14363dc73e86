"""Facts about custom fields: an admin's definitions, and a customer's values.

Definitions live on one stream, the custom field catalog (`aggregates.custom_fields`):
each key is defined once and may be retired (hidden from new values, kept in history).

A customer's values change by `CustomFieldsChanged`, with before and after per key.
Values of TEXT fields are personal free text (like notes), so they travel in the sealed
`texts` field and are erased by forgetting; the other types (number, date, choices)
are business attributes in the clear `changes` field, which analysts may query.
"""

from __future__ import annotations

from typing import Any

from events.base import ConfigurationFact, CrmCreated, CrmEvent, enum_schema
from events.vocabulary import CUSTOM_FIELD_TYPES

_CHANGE = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "type": enum_schema(CUSTOM_FIELD_TYPES),
            "before": {},
            "after": {},
        },
        "required": ["key", "type", "before", "after"],
    },
}


class CustomFieldCatalogCreated(ConfigurationFact, CrmCreated):
    """The catalog of custom field definitions was started (with its first definition)."""

    TYPE = "crm.custom_fields.catalog_created"


class CustomFieldDefined(ConfigurationFact, CrmEvent):
    """A typed field customers may carry; `choices` only for the two choice types."""

    TYPE = "crm.custom_fields.defined"
    FIELD_SCHEMAS = {"field_type": enum_schema(CUSTOM_FIELD_TYPES)}
    key: str
    label: str
    field_type: str
    choices: list[str]
    required: bool


class CustomFieldRetired(ConfigurationFact, CrmEvent):
    """The field takes no new values; existing values stay in profiles and history."""

    TYPE = "crm.custom_fields.retired"
    key: str


class CustomFieldsChanged(CrmEvent):
    """`changed` names every key whose value changed (None after: cleared). `changes`
    holds before/after of the non-text keys; `texts` (personal) those of TEXT keys.
    Values: NUMBER a decimal string, DATE ``YYYY-MM-DD``, SINGLE_CHOICE a string,
    MULTI_CHOICE a sorted list of strings, TEXT a string."""

    TYPE = "crm.customer.custom_fields_changed"
    PERSONAL = ("texts",)
    FIELD_SCHEMAS = {"changes": _CHANGE, "texts": {"anyOf": [_CHANGE, {"type": "null"}]}}
    changed: list[str]
    changes: list[dict[str, Any]]
    texts: list[dict[str, Any]] | None
