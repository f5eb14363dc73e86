"""rm_custom_fields: the custom field definitions, one row per key, from the catalog's
configuration facts (`events.custom_field`). Customers' values are folded into their
profiles (`projections.handlers.customers`); this table gives them labels and types.

Rows are small and few (at most a few hundred keys), so a batch loads the rows it
touches, folds the events in Python and upserts them, like the profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from psycopg import Connection

from events import CustomFieldDefined, CustomFieldRetired
from projections.bulk import load_rows, write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

COLUMNS: Final = (
    ("key", "text"),
    ("label", "text"),
    ("field_type", "text"),
    ("choices", "text[]"),
    ("required", "boolean"),
    ("retired", "boolean"),
    ("defined_at", "timestamptz"),
    ("defined_by", "text"),
    ("retired_at", "timestamptz"),
    ("last_position", "bigint"),
)
KINDS: Final = (CustomFieldDefined.TYPE, CustomFieldRetired.TYPE)

Row = dict[str, Any]


def fold(rows: dict[str, Row], event: IncomingEvent) -> None:
    """Apply one definition fact to the rows by key (a redelivered older fact is skipped)."""
    data = event.data
    key = str(data["key"])
    row = rows.get(key)
    if row is not None and row["last_position"] >= event.position:
        return
    if event.kind == CustomFieldDefined.TYPE:
        rows[key] = {
            "key": key,
            "label": data.get("label"),
            "field_type": data.get("field_type"),
            "choices": list(data.get("choices") or ()),
            "required": bool(data.get("required")),
            "retired": False,
            "defined_at": event.occurred_at,
            "defined_by": event.actor,
            "retired_at": None,
            "last_position": event.position,
        }
    elif row is not None:
        rows[key] = {**row, "retired": True, "retired_at": event.occurred_at,
                     "last_position": event.position}  # fmt: skip


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    facts = of_kind(events, *KINDS)
    if not facts:
        return
    keys = sorted({str(e.data["key"]) for e in facts})
    rows = load_rows(conn, "rm_custom_fields", COLUMNS, "key", keys)
    for event in facts:
        fold(rows, event)
    write_records(conn, "rm_custom_fields", COLUMNS, [rows[k] for k in sorted(rows)], key=("key",))


PROJECTION = Projection("custom_fields", apply)
