"""The customer and complaint dimensions: current state folded from events, in Python.

The same rules as the PostgreSQL read models (`projections/handlers/customers.py`,
`funnel.py`, `complaints.py`) minus every personal field, plus touch counters. A fold
is idempotent by position: an event at or below the row's ``last_position`` was folded
already (at-least-once delivery re-sends batches), and one customer's events arrive in
order because they share a partition.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from events import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    ContactDetailsChanged,
    ContactTouchRecorded,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    CustomFieldsChanged,
    OwnerAssigned,
    StageMoved,
)
from events.vocabulary import ESCALATED, OPEN, PIPELINE_PATH, RESOLVED
from projections.analytics.schema import COMPLAINTS_SCHEMA, CUSTOMERS_SCHEMA
from projections.incoming import IncomingEvent
from projections.vocabulary import STAGE_RANK

Row = dict[str, Any]

COMPLAINT_KINDS = frozenset(
    {ComplaintFiled.TYPE, ComplaintEscalated.TYPE, ComplaintAssigned.TYPE, ComplaintResolved.TYPE}
)
"""An assignment only moves the complaint's version here (analysts get no assignee)."""


def _uuid(value: Any) -> UUID | None:
    try:
        return None if value in (None, "") else UUID(str(value))
    except ValueError:
        return None


def new_customer(event: IncomingEvent) -> Row:
    """An empty dimension row (also the stub for a customer whose registration is unseen)."""
    row: Row = {name: None for name in CUSTOMERS_SCHEMA.names}
    row.update(
        customer_id=event.subject_id,
        tags=[],
        stage=PIPELINE_PATH[0],
        funnel_entered=False,
        furthest_rank=0,
        furthest_stage=PIPELINE_PATH[0],
        forgotten=False,
        touches=0,
        inbound_touches=0,
        outbound_touches=0,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
        version=0,
        last_position=0,
    )
    return row


def _reach(row: Row, rank: int) -> None:
    row["funnel_entered"] = True
    if rank > row["furthest_rank"]:
        row["furthest_rank"] = rank
        row["furthest_stage"] = PIPELINE_PATH[rank]


def _registered(row: Row, event: IncomingEvent) -> None:
    data = event.data
    for name in ("company", "industry", "region", "source", "owner"):
        row[name] = data.get(name)
    row["referred_by"] = _uuid(data.get("referred_by"))
    row["registered_at"] = row["created_at"] = event.occurred_at
    row["stage"] = PIPELINE_PATH[0]
    row["stage_changed_at"] = event.occurred_at
    _reach(row, 0)


def _stage(row: Row, event: IncomingEvent) -> None:
    to_stage = event.data.get("to_stage") or row["stage"]
    row["stage"] = to_stage
    row["stage_changed_at"] = event.occurred_at
    rank = STAGE_RANK.get(str(to_stage))
    if rank is not None:
        _reach(row, rank)
    else:
        row["funnel_entered"] = True


def _touch(row: Row, event: IncomingEvent) -> None:
    row["touches"] += 1
    if (event.data.get("direction") or "OUTBOUND") == "INBOUND":
        row["inbound_touches"] += 1
    else:
        row["outbound_touches"] += 1
    last = row["last_touch_at"]
    row["last_touch_at"] = event.occurred_at if last is None else max(last, event.occurred_at)


def _contact(row: Row, event: IncomingEvent) -> None:
    if "company" in (event.data.get("changed") or ()):
        row["company"] = event.data.get("company")


def _tagged(row: Row, event: IncomingEvent) -> None:
    row["tags"] = sorted(set(row["tags"] or ()) | set(event.data.get("tags") or ()))


def _untagged(row: Row, event: IncomingEvent) -> None:
    row["tags"] = sorted(set(row["tags"] or ()) - set(event.data.get("tags") or ()))


def _owner(row: Row, event: IncomingEvent) -> None:
    row["owner"] = event.data.get("owner")


def _merged(row: Row, event: IncomingEvent) -> None:
    row["merged_into"] = _uuid(event.data.get("survivor_id"))
    row["merged_at"] = event.occurred_at


def _forgotten(row: Row, event: IncomingEvent) -> None:
    row["forgotten"] = True
    row["forgotten_at"] = event.occurred_at


def _custom_fields(row: Row, event: IncomingEvent) -> None:
    values = json.loads(row["custom_fields"] or "{}")
    for change in event.data.get("changes") or ():
        if change.get("after") is None:
            values.pop(change["key"], None)
        else:
            values[change["key"]] = change["after"]
    row["custom_fields"] = json.dumps(values, ensure_ascii=False, sort_keys=True)


CUSTOMER_FOLDS = {
    CustomerRegistered.TYPE: _registered,
    ContactDetailsChanged.TYPE: _contact,
    CustomerTagged.TYPE: _tagged,
    CustomerUntagged.TYPE: _untagged,
    ContactTouchRecorded.TYPE: _touch,
    StageMoved.TYPE: _stage,
    OwnerAssigned.TYPE: _owner,
    CustomerMerged.TYPE: _merged,
    CustomerForgotten.TYPE: _forgotten,
    CustomFieldsChanged.TYPE: _custom_fields,
}


def fold_customer(row: Row, event: IncomingEvent) -> bool:
    """Apply one event of the customer's own stream; False when it was folded already."""
    if event.position <= row["last_position"]:
        return False
    change = CUSTOMER_FOLDS.get(event.kind) if event.known else None
    if change is not None:
        change(row, event)
    row["version"] = max(row["version"] or 0, event.stream_version)
    row["updated_at"] = max(row["updated_at"], event.occurred_at)
    row["last_position"] = event.position
    return True


def new_complaint(event: IncomingEvent) -> Row:
    row: Row = {name: None for name in COMPLAINTS_SCHEMA.names}
    row.update(
        complaint_id=event.stream_id,
        customer_id=event.subject_id,
        status=OPEN,
        filed_at=event.occurred_at,
        version=0,
        last_position=0,
    )
    return row


def fold_complaint(row: Row, event: IncomingEvent) -> bool:
    """Apply one complaint event; False when it was folded already."""
    if event.position <= row["last_position"]:
        return False
    data = event.data
    if event.kind == ComplaintFiled.TYPE:
        row.update(
            category=data.get("category"),
            severity=data.get("severity"),
            filed_at=event.occurred_at,
        )
    elif event.kind == ComplaintEscalated.TYPE:
        if row["status"] != RESOLVED:
            row["status"] = ESCALATED
        row.update(
            escalated_at=event.occurred_at,
            escalated_automatically=bool(data.get("automatic")),
        )
    elif event.kind == ComplaintResolved.TYPE:
        row.update(
            status=RESOLVED,
            satisfaction=data.get("satisfaction"),
            resolved_at=event.occurred_at,
        )
    row["version"] = max(row["version"] or 0, event.stream_version)
    row["last_position"] = event.position
    return True
