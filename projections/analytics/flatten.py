"""One envelope -> rows of the analytics datasets, with every personal field dropped.

Envelopes are read with `projections.incoming.parse_envelope`, so old event versions
are upcast first and the columns only know the current shape. Personal fields arrive
sealed (``"sealed:…"``) and are never opened here: they are simply not copied. An
event of a type this build does not know keeps its envelope columns only (its fields
could hold anything, personal data included).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import pyarrow as pa

from events import CustomerMerged, DuplicateMerged, PurchaseRecorded
from projections.analytics.schema import (
    MONEY_SCALE,
    RATE_SCALE,
    UUID_TYPE,
    field_columns,
    quantize,
)
from projections.incoming import IncomingEvent

Row = dict[str, Any]


def _uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _columns_by_type() -> dict[str, list[tuple[str, str, str]]]:
    by_type: dict[str, list[tuple[str, str, str]]] = {}
    for fc in field_columns():
        if pa.types.is_decimal(fc.type):
            kind = "decimal"
        elif fc.type == UUID_TYPE:
            kind = "uuid"
        elif pa.types.is_timestamp(fc.type):
            kind = "time"
        else:
            kind = "plain"
        by_type.setdefault(fc.event_type, []).append((fc.field, fc.column, kind))
    return by_type


_BY_TYPE = _columns_by_type()


def _value(kind: str, field: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("sealed:"):
        return None  # never copy a sealed value, whatever the field
    if kind == "decimal":
        return quantize(value, RATE_SCALE if field.startswith("rate") else MONEY_SCALE)
    if kind == "uuid":
        return _uuid(value)
    if kind == "time":  # an ISO string on the wire (a task's due time)
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if field == "lines":
        return [_line(line) for line in value]
    if field == "changes":
        return [{**change, "before": as_text(change.get("before")),
                 "after": as_text(change.get("after"))} for change in value]  # fmt: skip
    return value


def as_text(value: Any) -> str | None:
    """A custom field value as one text column: lists (multi choice) as JSON arrays."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _line(line: Mapping[str, Any]) -> Row:
    return {
        "sku": line.get("sku"),
        "quantity": line.get("quantity"),
        "unit_price": quantize(line.get("unit_price"), MONEY_SCALE),
        "amount": quantize(line.get("amount"), MONEY_SCALE),
    }


def event_row(event: IncomingEvent, envelope: Mapping[str, Any]) -> Row:
    """The `events` row: envelope attributes plus the event's non-personal fields."""
    row: Row = {
        "position": event.position,
        "event_id": event.event_id or None,
        "type": event.kind,
        "type_version": event.schema_version,
        # A configuration fact (a custom field definition) is about no customer.
        "customer_id": event.subject_id if event.about_customer else None,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "correlation_id": _uuid(envelope.get("correlationid")),
        "causation_id": _uuid(envelope.get("causationid")),
    }
    if event.known:
        for field, column, kind in _BY_TYPE.get(event.kind, ()):
            row[column] = _value(kind, field, event.data.get(field))
    return row


def purchase_rows(event: IncomingEvent) -> list[Row]:
    """One row per line of a purchase (none for other events)."""
    if not event.known or event.kind != PurchaseRecorded.TYPE:
        return []
    data = event.data
    rate = quantize(data.get("rate_to_cny") or "1", RATE_SCALE)
    total = quantize(data.get("total") or "0", MONEY_SCALE)
    total_cny = quantize(data.get("total_cny") or data.get("total") or "0", MONEY_SCALE)
    lines = list(data.get("lines") or [])
    rows = []
    for number, line in enumerate(lines, start=1):
        amount = quantize(line.get("amount") or "0", MONEY_SCALE)
        rows.append(
            {
                "position": event.position,
                "line_no": number,
                "customer_id": event.subject_id,
                "order_id": str(data.get("order_id") or ""),
                "occurred_at": event.occurred_at,
                "currency": data.get("currency") or "CNY",
                "rate_to_cny": rate,
                "sku": line.get("sku"),
                "quantity": line.get("quantity"),
                "unit_price": quantize(line.get("unit_price"), MONEY_SCALE),
                "amount": amount,
                "amount_cny": quantize((amount or 0) * (rate or 1), MONEY_SCALE),
                "line_count": len(lines),
                "order_total": total,
                "order_total_cny": total_cny,
            }
        )
    return rows


def merge_row(event: IncomingEvent) -> Row | None:
    """The merge link an event states, from whichever side it was recorded on."""
    if not event.known:
        return None
    duplicate: UUID | None
    survivor: UUID | None
    if event.kind == CustomerMerged.TYPE:
        duplicate, survivor = event.subject_id, _uuid(event.data.get("survivor_id"))
    elif event.kind == DuplicateMerged.TYPE:
        duplicate, survivor = _uuid(event.data.get("duplicate_id")), event.subject_id
    else:
        return None
    if duplicate is None or survivor is None:
        return None
    return {
        "position": event.position,
        "customer_id": event.subject_id,
        "duplicate_id": duplicate,
        "survivor_id": survivor,
        "merged_at": event.occurred_at,
    }
