"""Arrow schemas of the analytics datasets.

The `events` columns are derived from the event classes: the envelope attributes, then
every field of every event type except its `PERSONAL` ones (ids only, no personal data).
A field name that some other event declares personal gets its event's short name as a
prefix (``CustomerForgotten.reason`` -> ``forgotten_reason``), so no analytics column
shares a name with a personal field (erasure tools look for personal data by column
name). A new event field of a kind not mapped here fails `event_columns` loudly.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, Final

import pyarrow as pa

from events import ALL_EVENTS, ORGANISATION_EVENTS, CrmEvent

TIME: Final = pa.timestamp("us", tz="UTC")
UUID_TYPE: Final = pa.uuid()
MONEY_SCALE: Final = 2
RATE_SCALE: Final = 8
MONEY: Final = pa.decimal128(18, MONEY_SCALE)
RATE: Final = pa.decimal128(18, RATE_SCALE)

BASE_FIELDS: Final = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)
"""What every stored event carries; the envelope says it as position, stream, version, time."""

LINE_TYPE: Final = pa.struct(
    [
        ("sku", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", MONEY),
        ("amount", MONEY),
    ]
)

ENVELOPE_COLUMNS: Final = (
    pa.field("position", pa.int64(), nullable=False),
    pa.field("event_id", pa.string()),
    pa.field("type", pa.string(), nullable=False),
    pa.field("type_version", pa.int32()),
    pa.field("customer_id", UUID_TYPE),
    pa.field("stream_id", UUID_TYPE),
    pa.field("stream_version", pa.int64()),
    pa.field("occurred_at", TIME),
    pa.field("recorded_at", TIME),
    pa.field("actor", pa.string()),
    pa.field("correlation_id", UUID_TYPE),
    pa.field("causation_id", UUID_TYPE),
)

_SIMPLE_TYPES: Final[dict[str, pa.DataType]] = {
    "str": pa.string(),
    "UUID": UUID_TYPE,
    "int": pa.int64(),
    "bool": pa.bool_(),
    "list[str]": pa.list_(pa.string()),
    "datetime": TIME,
}
CUSTOM_FIELD_CHANGE_TYPE: Final = pa.struct(
    [
        ("key", pa.string()),
        ("type", pa.string()),
        ("before", pa.string()),
        ("after", pa.string()),
    ]
)
"""A non-text custom field change; NUMBER and DATE values as text (cast them in SQL),
MULTI_CHOICE as a JSON array. TEXT values are personal and never reach analytics."""

_OVERRIDES: Final[dict[tuple[str, str], pa.DataType]] = {
    ("crm.customer.purchase_recorded", "lines"): pa.list_(LINE_TYPE),
    ("crm.customer.custom_fields_changed", "changes"): pa.list_(CUSTOM_FIELD_CHANGE_TYPE),
}


def personal_names() -> frozenset[str]:
    """Every field name that some event declares personal."""
    return frozenset(name for cls in ALL_EVENTS for name in cls.PERSONAL)


def _is_decimal(cls: type[CrmEvent], name: str) -> bool:
    schema = cls.FIELD_SCHEMAS.get(name) or {}
    return str(schema.get("$ref", "")).endswith("/decimal")


def _arrow_type(cls: type[CrmEvent], name: str, annotation: str) -> pa.DataType:
    override = _OVERRIDES.get((cls.TYPE, name))
    if override is not None:
        return override
    if _is_decimal(cls, name):
        return RATE if name.startswith("rate") else MONEY
    bare = annotation.replace(" | None", "").strip()
    if bare in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[bare]
    raise TypeError(f"{cls.__name__}.{name}: no analytics column type for {annotation!r}")


def short_name(cls: type[CrmEvent]) -> str:
    return cls.TYPE.rsplit(".", 1)[-1]


@dataclasses.dataclass(frozen=True)
class FieldColumn:
    """Where one event field lands in the `events` dataset."""

    event_type: str
    field: str
    column: str
    type: pa.DataType


@cache
def field_columns() -> tuple[FieldColumn, ...]:
    """One entry per (event type, non-personal field), in declaration order."""
    personal = personal_names()
    found: list[FieldColumn] = []
    for cls in ALL_EVENTS:
        if cls in ORGANISATION_EVENTS:
            continue  # not in the analysts' datasets (projections.analytics.writer)
        for f in dataclasses.fields(cls):
            if f.name in BASE_FIELDS or f.name in cls.PERSONAL or f.name == "customer_id":
                continue
            column = f"{short_name(cls)}_{f.name}" if f.name in personal else f.name
            found.append(
                FieldColumn(cls.TYPE, f.name, column, _arrow_type(cls, f.name, str(f.type)))
            )
    return tuple(found)


@cache
def events_schema() -> pa.Schema:
    columns: dict[str, pa.DataType] = {}
    for fc in field_columns():
        known = columns.setdefault(fc.column, fc.type)
        if known != fc.type:
            raise TypeError(
                f"column {fc.column!r} is {known} in one event and {fc.type} in another"
            )
    taken = {f.name for f in ENVELOPE_COLUMNS}
    clash = taken & set(columns)
    if clash:
        raise TypeError(f"event fields named like envelope columns: {sorted(clash)}")
    return pa.schema([*ENVELOPE_COLUMNS, *(pa.field(n, t) for n, t in columns.items())])


PURCHASES_SCHEMA: Final = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),
        pa.field("line_no", pa.int32(), nullable=False),
        pa.field("customer_id", UUID_TYPE, nullable=False),
        pa.field("order_id", pa.string()),
        pa.field("occurred_at", TIME),
        pa.field("currency", pa.string()),
        pa.field("rate_to_cny", RATE),
        pa.field("sku", pa.string()),
        pa.field("quantity", pa.int64()),
        pa.field("unit_price", MONEY),
        pa.field("amount", MONEY),
        pa.field("amount_cny", MONEY),
        pa.field("line_count", pa.int32()),
        pa.field("order_total", MONEY),
        pa.field("order_total_cny", MONEY),
    ]
)
"""One row per purchase line; ``line_no`` counts from 1. ``amount_cny`` is the line's
amount times the rate, rounded to cents, so lines may not add up to ``order_total_cny``
to the cent: sum ``order_total_cny`` over ``line_no = 1`` for money per order."""

CUSTOMERS_SCHEMA: Final = pa.schema(
    [
        pa.field("customer_id", UUID_TYPE, nullable=False),
        pa.field("registered_at", TIME),
        pa.field("region", pa.string()),
        pa.field("source", pa.string()),
        pa.field("company", pa.string()),
        pa.field("industry", pa.string()),
        pa.field("owner", pa.string()),
        pa.field("referred_by", UUID_TYPE),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("custom_fields", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("stage_changed_at", TIME),
        pa.field("funnel_entered", pa.bool_()),
        pa.field("furthest_rank", pa.int16()),
        pa.field("furthest_stage", pa.string()),
        pa.field("merged_into", UUID_TYPE),
        pa.field("merged_at", TIME),
        pa.field("forgotten", pa.bool_()),
        pa.field("forgotten_at", TIME),
        pa.field("touches", pa.int64()),
        pa.field("inbound_touches", pa.int64()),
        pa.field("outbound_touches", pa.int64()),
        pa.field("last_touch_at", TIME),
        pa.field("created_at", TIME),
        pa.field("updated_at", TIME),
        pa.field("version", pa.int64()),
        pa.field("last_position", pa.int64(), nullable=False),
    ]
)
"""The customer dimension: one snapshot row per change; the newest (by last_position)
per customer is current. Built from the customer's own stream only. `custom_fields` is
a JSON object of the non-text custom values (``json_extract_string(custom_fields,
'$.segment')`` in DuckDB); TEXT values are personal and left out."""

COMPLAINTS_SCHEMA: Final = pa.schema(
    [
        pa.field("complaint_id", UUID_TYPE, nullable=False),
        pa.field("customer_id", UUID_TYPE, nullable=False),
        pa.field("category", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("status", pa.string()),
        pa.field("escalated_automatically", pa.bool_()),
        pa.field("satisfaction", pa.int64()),
        pa.field("filed_at", TIME),
        pa.field("escalated_at", TIME),
        pa.field("resolved_at", TIME),
        pa.field("version", pa.int64()),
        pa.field("last_position", pa.int64(), nullable=False),
    ]
)

MERGES_SCHEMA: Final = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),
        pa.field("customer_id", UUID_TYPE, nullable=False),
        pa.field("duplicate_id", UUID_TYPE, nullable=False),
        pa.field("survivor_id", UUID_TYPE, nullable=False),
        pa.field("merged_at", TIME),
    ]
)
"""One row per merge event, from either side (the two sides travel on two partitions)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A folder of Parquet files: keyed (dedupe by `key`) or snapshots (newest per `key`)."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    snapshot: bool = False

    @property
    def dedupe_key(self) -> tuple[str, ...]:
        """Columns that identify a row; for keyed datasets the key plus any row number."""
        return (*self.key, "line_no") if "line_no" in self.schema.names else self.key


def datasets() -> tuple[Dataset, ...]:
    return (
        Dataset("events", events_schema(), ("position",)),
        Dataset("purchases", PURCHASES_SCHEMA, ("position",)),
        Dataset("merges", MERGES_SCHEMA, ("position",)),
        Dataset("customers", CUSTOMERS_SCHEMA, ("customer_id",), snapshot=True),
        Dataset("complaints", COMPLAINTS_SCHEMA, ("complaint_id",), snapshot=True),
    )


def dataset(name: str) -> Dataset:
    for candidate in datasets():
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def quantize(value: Any, scale: int) -> Decimal | None:
    """A decimal string as a Decimal of exactly `scale` places (half-up), None stays None."""
    if value is None or value == "":
        return None
    exponent = Decimal(1).scaleb(-scale)
    return Decimal(str(value)).quantize(exponent, rounding=ROUND_HALF_UP)
