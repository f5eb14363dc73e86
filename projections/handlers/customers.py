"""rm_customers: the 360° profile of each customer, one row, folded from its own stream.

A batch loads the current rows of its customers, folds their new events in order in
Python (the rules of "what changes what" read best as code) and writes every touched
row back in one multi-row upsert. Purchases, touches and complaints live in their own
tables: a merged survivor counts its duplicates' facts at read time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from events import (
    ConsentChanged,
    ContactDetailsChanged,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    CustomFieldsChanged,
    NeedRecorded,
    OwnerAssigned,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
    StageMoved,
)
from events.vocabulary import LEAD
from projections.bulk import load_rows, write_records
from projections.handlers.base import Projection, as_uuid
from projections.incoming import IncomingEvent
from projections.search_keys import initials_of, name_pinyin, phone_digits

COLUMNS = (
    ("id", "uuid"),
    ("name", "text"),
    ("email", "text"),
    ("phone", "text"),
    ("address", "text"),
    ("company", "text"),
    ("industry", "text"),
    ("region", "text"),
    ("source", "text"),
    ("owner", "text"),
    ("referred_by", "uuid"),
    ("referrals", "jsonb"),
    ("tags", "text[]"),
    ("consents", "jsonb"),
    ("stage", "text"),
    ("stage_history", "jsonb"),
    ("needs", "jsonb"),
    ("surveys", "jsonb"),
    ("merged_into", "uuid"),
    ("forgotten", "boolean"),
    ("forgotten_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("version", "integer"),
    ("last_position", "bigint"),
    ("name_pinyin", "text"),
    ("name_initials", "text"),
    ("phone_digits", "text"),
    ("custom_fields", "jsonb"),
    ("custom_texts", "jsonb"),
)
SEARCH_KEYS = ("name_pinyin", "name_initials", "phone_digits")
"""Derived from the name and phone (`projections.search_keys`): personal data too."""
PERSONAL_COLUMNS = ("name", "email", "phone", "address", *SEARCH_KEYS)
CONTACT_FIELDS = ("name", "email", "phone", "address", "company")

Row = dict[str, Any]


def new_row(event: IncomingEvent) -> Row:
    """An empty profile; also the stub for an event whose registration was never seen."""
    return {
        "id": event.subject_id,
        **{name: None for name, _ in COLUMNS if name != "id"},
        "referrals": [],
        "tags": [],
        "consents": [],
        "stage": LEAD,
        "stage_history": [],
        "needs": [],
        "surveys": [],
        "custom_fields": {},
        "custom_texts": {},
        "forgotten": False,
        "created_at": event.occurred_at,
        "updated_at": event.occurred_at,
        "version": 0,
        "last_position": 0,
    }


def _registered(row: Row, event: IncomingEvent) -> None:
    data = event.data
    for name in ("name", "email", "phone", "company", "industry", "region", "source", "owner"):
        row[name] = data.get(name)
    row["referred_by"] = as_uuid(data.get("referred_by"))
    row["created_at"] = event.occurred_at
    row["stage"] = LEAD
    row["stage_history"] = [
        {"stage": LEAD, "from": None, "at": event.occurred_at.isoformat(), "reason": None}
    ]


def _contact_changed(row: Row, event: IncomingEvent) -> None:
    for name in event.data.get("changed") or ():
        if name in CONTACT_FIELDS:
            row[name] = event.data.get(name)


def _tagged(row: Row, event: IncomingEvent) -> None:
    row["tags"] = sorted(set(row["tags"]) | set(event.data.get("tags") or ()))


def _untagged(row: Row, event: IncomingEvent) -> None:
    row["tags"] = sorted(set(row["tags"]) - set(event.data.get("tags") or ()))


def _replace(items: list[dict[str, Any]], key: tuple[str, ...], item: dict[str, Any]) -> list[Any]:
    """`items` with `item` in place of any entry with the same key fields, else appended."""
    kept = [i for i in items if tuple(i.get(k) for k in key) != tuple(item.get(k) for k in key)]
    return [*kept, item]


def _latest(items: list[dict[str, Any]], key: tuple[str, ...], item: dict[str, Any]) -> list[Any]:
    """`_replace`, unless an entry with the same key is later in business time: a
    backdated answer or decision (an old paper form entered today) is history, not the
    current one (RULES.md: business time is the command's `occurredAt`)."""
    same = [i for i in items if tuple(i.get(k) for k in key) == tuple(item.get(k) for k in key)]
    if any(datetime.fromisoformat(i["at"]) > datetime.fromisoformat(item["at"]) for i in same):
        return items
    return _replace(items, key, item)


def _need(row: Row, event: IncomingEvent) -> None:
    item = {
        "need_id": event.data.get("need_id"),
        "description": event.data.get("description"),
        "product_interest": event.data.get("product_interest"),
        "at": event.occurred_at.isoformat(),
    }
    row["needs"] = _replace(row["needs"], ("need_id",), item)


def _stage(row: Row, event: IncomingEvent) -> None:
    to_stage = event.data.get("to_stage") or row["stage"]
    row["stage"] = to_stage
    entry = {
        "stage": to_stage,
        "from": event.data.get("from_stage"),
        "at": event.occurred_at.isoformat(),
        "reason": event.data.get("reason"),
    }
    row["stage_history"] = [*row["stage_history"], entry]


def _owner(row: Row, event: IncomingEvent) -> None:
    row["owner"] = event.data.get("owner")


def _consent(row: Row, event: IncomingEvent) -> None:
    item = {
        "purpose": event.data.get("purpose"),
        "channel": event.data.get("channel"),
        "granted": bool(event.data.get("granted")),
        "at": event.occurred_at.isoformat(),
    }
    row["consents"] = _latest(row["consents"], ("purpose", "channel"), item)


def _survey(row: Row, event: IncomingEvent) -> None:
    item = {
        "survey_id": event.data.get("survey_id"),
        "score": event.data.get("score"),
        "comment": event.data.get("comment"),
        "at": event.occurred_at.isoformat(),
    }
    row["surveys"] = _latest(row["surveys"], ("survey_id",), item)


def _referral(row: Row, event: IncomingEvent) -> None:
    item = {
        "customer_id": event.data.get("referred_customer_id"),
        "at": event.occurred_at.isoformat(),
    }
    row["referrals"] = _replace(row["referrals"], ("customer_id",), item)


def _merged(row: Row, event: IncomingEvent) -> None:
    row["merged_into"] = as_uuid(event.data.get("survivor_id"))


def _custom_fields(row: Row, event: IncomingEvent) -> None:
    """Non-text values to `custom_fields`, TEXT values (personal) to `custom_texts`.
    Texts read as None once the customer is forgotten: nothing to fold then."""
    for column, entries in (
        ("custom_fields", event.data.get("changes")),
        ("custom_texts", event.data.get("texts")),
    ):
        values = dict(row[column] or {})
        for entry in entries or ():
            if entry.get("after") is None:
                values.pop(entry["key"], None)
            else:
                values[entry["key"]] = entry["after"]
        row[column] = values


def scrub(row: Row) -> None:
    """Erase personal data from a profile: contacts and every free text it holds."""
    for name in PERSONAL_COLUMNS:
        row[name] = None
    row["needs"] = [{**n, "description": None, "product_interest": None} for n in row["needs"]]
    row["stage_history"] = [{**s, "reason": None} for s in row["stage_history"]]
    row["surveys"] = [{**s, "comment": None} for s in row["surveys"]]
    row["custom_texts"] = {}


def _forgotten(row: Row, event: IncomingEvent) -> None:
    row["forgotten"] = True
    row["forgotten_at"] = event.occurred_at


FOLDS = {
    CustomerRegistered.TYPE: _registered,
    ContactDetailsChanged.TYPE: _contact_changed,
    CustomerTagged.TYPE: _tagged,
    CustomerUntagged.TYPE: _untagged,
    NeedRecorded.TYPE: _need,
    StageMoved.TYPE: _stage,
    OwnerAssigned.TYPE: _owner,
    ConsentChanged.TYPE: _consent,
    SatisfactionSurveyAnswered.TYPE: _survey,
    ReferralRecorded.TYPE: _referral,
    CustomerMerged.TYPE: _merged,
    CustomerForgotten.TYPE: _forgotten,
    CustomFieldsChanged.TYPE: _custom_fields,
}
"""Kinds that change the profile; other events of the customer's own stream only move
its version, updated_at and last_position (purchases, touches, the survivor's side of
a merge)."""


def fold(row: Row, event: IncomingEvent) -> None:
    """Apply one event of the customer's own stream to its profile row.

    An event of an unknown type still moved the aggregate's version (which commands
    use as their expected version), so only its content is skipped.
    """
    change = FOLDS.get(event.kind) if event.known else None
    if change is not None:
        change(row, event)
    row["version"] = max(row["version"], event.stream_version)
    row["updated_at"] = max(row["updated_at"], event.occurred_at)
    row["last_position"] = max(row["last_position"], event.position)
    if row["forgotten"]:
        scrub(row)


def search_keys(row: Row) -> None:
    """The keys the list searches and sorts by, from the row's name and phone as they are
    after its events (None when those are: a forgotten customer keeps none). Once per
    row and batch, not per event: pinyin costs a few hundred microseconds a name."""
    row["name_pinyin"] = name_pinyin(row["name"])
    row["name_initials"] = initials_of(row["name_pinyin"])
    row["phone_digits"] = phone_digits(row["phone"])


Move = tuple[int, datetime, int]
"""What an event moves on its profile row alone: version, updated_at, last_position."""

MOVE_SQL = """
UPDATE rm_customers AS c
SET version = greatest(c.version, v.version),
    updated_at = greatest(c.updated_at, v.updated_at),
    last_position = greatest(c.last_position, v.last_position)
FROM unnest(%b::uuid[], %b::integer[], %b::timestamptz[], %b::bigint[])
    AS v(id, version, updated_at, last_position)
WHERE c.id = v.id
"""


def _changes_profile(event: IncomingEvent) -> bool:
    return event.known and event.kind in FOLDS


def moves(events: Sequence[IncomingEvent]) -> dict[UUID, Move]:
    """Per customer, where its own-stream events move version, updated_at and
    last_position (the same as `fold` does to them, for events `apply` does not fold)."""
    moved: dict[UUID, Move] = {}
    for e in events:
        if not e.on_own_stream:
            continue
        version, at, position = moved.get(e.subject_id, (0, e.occurred_at, 0))
        moved[e.subject_id] = (
            max(version, e.stream_version),
            max(at, e.occurred_at),
            max(position, e.position),
        )
    return moved


def write_moves(conn: Connection[Any], moved: Mapping[UUID, Move]) -> None:
    """Store `moves` alone, in SQL (rows in id order: no deadlocks)."""
    if moved:
        ids = sorted(moved)
        columns = list(zip(*(moved[i] for i in ids), strict=True))
        conn.execute(MOVE_SQL, [ids, *map(list, columns)])


def _existing(conn: Connection[Any], ids: Sequence[UUID]) -> set[UUID]:
    rows = conn.execute("SELECT id FROM rm_customers WHERE id = ANY(%b::uuid[])", [ids])
    return {row[0] for row in rows}


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    """Fold the events that change a profile (and any event of a customer with no row
    yet) into whole rows. The rest (purchases, touches) only move the row's version,
    updated_at and last_position: `projections.apply` writes those `moves` together with
    the materialized columns, one row version per customer and batch instead of two."""
    own = [e for e in events if e.on_own_stream]
    if not own:
        return
    folding = {e.subject_id for e in own if _changes_profile(e)}
    others = sorted({e.subject_id for e in own} - folding)
    if others:
        folding |= set(others) - _existing(conn, others)
    fold_events = [e for e in own if e.subject_id in folding]
    if not fold_events:
        return
    rows = load_rows(conn, "rm_customers", COLUMNS, "id", sorted(folding))
    for event in fold_events:
        row = rows.get(event.subject_id)
        if row is None:
            row = rows[event.subject_id] = new_row(event)
        fold(row, event)
    for subject in folding:
        search_keys(rows[subject])
    write_records(conn, "rm_customers", COLUMNS, [rows[i] for i in sorted(folding)], key=("id",))


PROJECTION = Projection("customers", apply)
