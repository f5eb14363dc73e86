"""rm_purchases: one row per purchase, keyed by its global position.

Append-only, so a redelivered purchase is also stopped by the primary key, not only by
the checkpoint. Amounts stay `numeric`: money is never a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from events import PurchaseRecorded
from projections.bulk import write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

COLUMNS = (
    ("position", "bigint"),
    ("customer_id", "uuid"),
    ("order_id", "text"),
    ("occurred_at", "timestamptz"),
    ("currency", "text"),
    ("rate_to_cny", "numeric"),
    ("total", "numeric"),
    ("total_cny", "numeric"),
    ("lines", "jsonb"),
)


def record(event: IncomingEvent) -> dict[str, Any]:
    data = event.data
    return {
        "position": event.position,
        "customer_id": event.subject_id,
        "order_id": str(data.get("order_id") or ""),
        "occurred_at": event.occurred_at,
        "currency": data.get("currency") or "CNY",
        "rate_to_cny": str(data.get("rate_to_cny") or "1"),
        "total": str(data.get("total") or "0"),
        "total_cny": str(data.get("total_cny") or data.get("total") or "0"),
        "lines": list(data.get("lines") or []),
    }


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    rows = [record(e) for e in of_kind(events, PurchaseRecorded.TYPE)]
    write_records(conn, "rm_purchases", COLUMNS, rows, key=("position",), on_conflict="nothing")


PROJECTION = Projection("purchases", apply)
