"""Audit reads straight from the event store (never a read model).

- `replay`: a customer's whole history, its complaints' events included, event by event
  in position order, each with its business and recorded time, actor, correlation and
  causation ids, and the state of its aggregate right after it.
- `state_as_of`: the customer (and its complaints) as they were at a moment, loaded
  through the repository at the version in force then (snapshots make it fast).
- `customer_at`: the customer alone as an aggregate at a moment (GraphQL
  ``customerAsOf``), by the same rule as `state_as_of`.
- `customer_streams`: the streams that belong to a customer: its own and those of its
  complaints, found in ``crm_stream_subjects`` (kept by the recorder, see
  `commands.chain`), not by scanning the store.

Time basis: ``business`` (default) is the time the event carries (a command's
``occurredAt``, possibly back-dated by an import); ``recorded`` is when the store wrote
it. At a moment T a stream is at its latest version whose event is dated at or before T
(the rule GraphQL ``customerAsOf`` uses); ``replay(until=T)`` stops every stream at that
same version, so its last state of the customer equals ``state_as_of(T)``.

Personal fields are opened with the customer's key when it still exists; once the
customer is forgotten they read as None, while type, times, position and actor remain.

Damaged stored bytes never stop a replay or an as-of (`compliance.corruption`): the
unreadable value reads as None, and the step (`AuditStep.corrupted`) or the result
(`AsOf.corrupted`) names it with its position.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DataError, StoredEvent
from eventsourcing.utils import resolve_topic
from psycopg import sql

from aggregates.customer import Customer
from commands.application import CrmApplication
from commands.chain import STREAM_SUBJECTS
from commands.mapper import SEALED
from commands.recorder import EventMeta
from compliance.changes import FieldChange, field_changes, touched_fields
from compliance.corruption import (
    Corruption,
    Opened,
    advance,
    event_type,
    load,
    open_event,
    stream_rows,
)
from compliance.stored import positioned
from events import CustomerRegistered

TimeBasis = Literal["business", "recorded"]
BASES: tuple[TimeBasis, ...] = ("business", "recorded")

_LIBRARY_FIELDS = {"_id", "_version", "_created_on", "_modified_on", "_pending_events"}


class UnknownCustomer(LookupError):
    """No customer stream with that id in the event store."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"no customer {customer_id} in the event store")
        self.customer_id = customer_id


def plain(value: Any) -> Any:
    """A JSON-safe copy: ids and decimals as strings, times in ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def aggregate_state(aggregate: Aggregate) -> dict[str, Any]:
    """Every attribute of an aggregate (private ones without their underscore), JSON-safe."""
    state: dict[str, Any] = {
        "id": aggregate.id,
        "version": aggregate.version,
        "created_on": aggregate.created_on,
        "modified_on": aggregate.modified_on,
    }
    for name, value in vars(aggregate).items():
        if name in _LIBRARY_FIELDS:
            continue
        state[name.lstrip("_")] = value
    return {k: plain(v) for k, v in state.items()}


# -- reading the store ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    position: int
    stored: StoredEvent


def _events_table(app: CrmApplication) -> sql.Composable:
    recorder = app.crm_recorder
    return sql.SQL("{}.{}").format(
        sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
    )


def _side_table(app: CrmApplication, name: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(
        sql.Identifier(app.crm_recorder.datastore.schema), sql.Identifier(name)
    )


def _query(app: CrmApplication, statement: sql.Composed, params: Sequence[Any]) -> list[Any]:
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, params)
        return list(curs.fetchall())


def complaint_streams(app: CrmApplication, customer_id: UUID) -> list[UUID]:
    """The complaint streams filed for a customer, oldest first."""
    rows = _query(
        app,
        sql.SQL("SELECT stream_id FROM {} WHERE customer_id = %s ORDER BY first_position").format(
            _side_table(app, STREAM_SUBJECTS)
        ),
        (customer_id,),
    )
    return [row["stream_id"] for row in rows]


def customer_streams(app: CrmApplication, customer_id: UUID) -> list[UUID]:
    """The customer's own stream, then its complaints' streams."""
    return [customer_id, *complaint_streams(app, customer_id)]


def _stored_rows(app: CrmApplication, stream_ids: Sequence[UUID]) -> list[_Row]:
    rows = _query(
        app,
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY notification_id"
        ).format(_events_table(app)),
        (list(stream_ids),),
    )
    return [_Row(*positioned(row)) for row in rows]


def _require_customer(rows: Sequence[_Row], customer_id: UUID) -> None:
    own = [r for r in rows if r.stored.originator_id == customer_id]
    if not own or resolve_topic(own[0].stored.topic) is not CustomerRegistered:
        raise UnknownCustomer(customer_id)


# -- replay ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditStep:
    """One recorded event of a customer's history, and its aggregate's state after it."""

    position: int
    stream_id: UUID
    stream_kind: str
    version: int
    type: str
    occurred_at: datetime | None
    """None only when the event's whole state is unreadable (see `corrupted`)."""
    recorded_at: datetime | None
    actor: str | None
    correlation_id: UUID | None
    causation_id: UUID | None
    command: str | None
    personal_fields: tuple[str, ...]
    data: dict[str, Any]
    state: dict[str, Any]
    corrupted: tuple[Corruption, ...] = ()
    """Values of this event that could not be read (they show as None)."""
    changes: tuple[FieldChange, ...] = ()
    """The state fields this event changed, with their values before and after it."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stream_id": str(self.stream_id),
            "stream_kind": self.stream_kind,
            "version": self.version,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "actor": self.actor,
            "correlation_id": str(self.correlation_id) if self.correlation_id else None,
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "command": self.command,
            "personal_fields": list(self.personal_fields),
            "data": self.data,
            "state": self.state,
            "changes": [c.as_dict() for c in self.changes],
            "corrupted": [c.as_dict() for c in self.corrupted],
        }


_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def _event_data(event: Any) -> dict[str, Any]:
    return {k: plain(v) for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}


def _time_of(event: Any, meta: EventMeta | None, basis: TimeBasis) -> datetime:
    if basis == "recorded" and meta is not None:
        return meta.recorded_at
    timestamp: datetime = event.timestamp
    return timestamp


def replay(
    app: CrmApplication,
    customer_id: UUID,
    *,
    until: datetime | None = None,
    basis: TimeBasis = "business",
    redact: bool = False,
) -> list[AuditStep]:
    """The customer's history as `AuditStep`s, oldest first (see module docstring).

    `until`: stop each stream at its version in force at that moment. `redact`: leave
    personal fields None even while the key exists (a role that may not see them).
    """
    rows = _stored_rows(app, customer_streams(app, customer_id))
    _require_customer(rows, customer_id)
    metas = app.crm_recorder.select_event_meta([r.position for r in rows])
    app.keys.refresh({customer_id})
    opened = [(row, open_event(app, row.position, row.stored, redact=redact)) for row in rows]
    cutoff = _cutoffs(opened, metas, until, basis) if until is not None else None
    aggregates: dict[UUID, Any] = {}
    states: dict[UUID, dict[str, Any]] = {}
    steps: list[AuditStep] = []
    for row, one in opened:
        stream = UUID(str(row.stored.originator_id))
        version = row.stored.originator_version
        if cutoff is not None and version > cutoff.get(stream, 0):
            continue
        aggregate = advance(aggregates.get(stream), one, version)
        aggregates[stream] = aggregate
        step = _step(row, one, metas.get(row.position), customer_id, aggregate)
        touched = _touched(app, row.stored, step.data)
        changes = field_changes(states.get(stream), step.state, touched=touched)
        states[stream] = step.state
        steps.append(replace(step, changes=changes))
    return steps


def changes_until(
    app: CrmApplication, customer_id: UUID, last: int, *, redact: bool, after: int = 0
) -> dict[int, tuple[FieldChange, ...]]:
    """Per global position in (`after`, `last`], the fields that event changed, with their
    values before and after it.

    An audit page starts anywhere: each stream's state right before the page's first
    event of it is loaded at that version (`load`: the repository's snapshots bound the
    work, so a page costs about its own length, not the whole history), then the page's
    events are folded onto it. `redact` as in `replay`: personal values stay None (the
    state before is then folded from the redacted events, not loaded opened), so only
    the event's own list of changed fields names them.
    """
    rows = _stored_rows_between(app, customer_streams(app, customer_id), after, last)
    if not redact:
        app.keys.refresh({customer_id})
    aggregates: dict[UUID, Any] = {}
    states: dict[UUID, dict[str, Any] | None] = {}
    found: dict[int, tuple[FieldChange, ...]] = {}
    for row in rows:
        stream = UUID(str(row.stored.originator_id))
        version = row.stored.originator_version
        if stream not in states:
            aggregates[stream] = _state_before(app, stream, version, redact=redact)
            start = aggregates[stream]
            states[stream] = aggregate_state(start) if start is not None else None
        one = open_event(app, row.position, row.stored, redact=redact)
        aggregate = advance(aggregates.get(stream), one, version)
        aggregates[stream] = aggregate
        state = aggregate_state(aggregate) if aggregate is not None else {}
        data = _event_data(one.event) if one.event is not None else {}
        touched = _touched(app, row.stored, data)
        found[row.position] = field_changes(states[stream], state, touched=touched)
        states[stream] = state
    return found


def _state_before(app: CrmApplication, stream: UUID, version: int, *, redact: bool) -> Any:
    """The stream's aggregate at `version - 1` (None before its first event)."""
    if version <= 1:
        return None
    if not redact:
        return load(app, stream, version - 1)[0]
    aggregate: Any = None
    for position, stored in stream_rows(app, stream, version - 1):
        one = open_event(app, position, stored, redact=True)
        aggregate = advance(aggregate, one, stored.originator_version)
    return aggregate


def _stored_rows_between(
    app: CrmApplication, stream_ids: Sequence[UUID], after: int, last: int
) -> list[_Row]:
    rows = _query(
        app,
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) AND notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id"
        ).format(_events_table(app)),
        (list(stream_ids), after, last),
    )
    return [_Row(*positioned(row)) for row in rows]


def _kind_of(cls: Any) -> str:
    """``complaint`` or ``task``: the second part of the event's type (``crm.task.…``)."""
    parts = str(getattr(cls, "TYPE", "")).split(".")
    return parts[1] if len(parts) > 2 else "complaint"


def _touched(app: CrmApplication, stored: StoredEvent, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields the event says it changed, and its personal fields that were recorded
    with a value but read as null (the customer forgotten, its key gone): the change is
    still named, its values null (docs/compliance.md)."""
    personal = getattr(resolve_topic(stored.topic), "PERSONAL", ())
    unread = [name for name in personal if data.get(name) is None]
    if not unread:
        return touched_fields(data)
    sealed = app.crm_mapper.transcoder.decode(stored.state).get(SEALED) or {}
    return (*touched_fields(data), *(name for name in unread if name in sealed))


def _step(
    row: _Row, opened: Opened, meta: EventMeta | None, customer_id: UUID, aggregate: Any
) -> AuditStep:
    event = opened.event
    cls = resolve_topic(row.stored.topic)
    stream = UUID(str(row.stored.originator_id))
    return AuditStep(
        position=row.position,
        stream_id=stream,
        stream_kind="customer" if stream == customer_id else _kind_of(cls),
        version=row.stored.originator_version,
        type=event_type(row.stored),
        occurred_at=event.timestamp if event is not None else None,
        recorded_at=meta.recorded_at if meta else None,
        actor=meta.actor if meta else None,
        correlation_id=meta.correlation_id if meta else None,
        causation_id=meta.causation_id if meta else None,
        command=meta.command if meta else None,
        personal_fields=tuple(getattr(cls, "PERSONAL", ())),
        data=_event_data(event) if event is not None else {},
        state=aggregate_state(aggregate) if aggregate is not None else {},
        corrupted=opened.corruptions,
    )


def _cutoffs(
    opened: Iterable[tuple[_Row, Opened]],
    metas: Mapping[int, EventMeta],
    until: datetime,
    basis: TimeBasis,
) -> dict[UUID, int]:
    """Per stream, the latest version whose event is dated at or before `until` (an event
    whose state is unreadable has no business time: it is kept when a later one is)."""
    cutoff: dict[UUID, int] = {}
    for row, one in opened:
        event = one.event
        if event is None:
            continue
        if _time_of(event, metas.get(row.position), basis) <= until:
            stream = event.originator_id
            cutoff[stream] = max(cutoff.get(stream, 0), event.originator_version)
    return cutoff


# -- as of -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamAsOf:
    """One stream at a moment: its version then, that event's position, its state."""

    stream_id: UUID
    version: int
    position: int
    state: dict[str, Any]
    kind: str = "customer"
    """What the stream is: customer, complaint or task."""


@dataclass(frozen=True)
class AsOf:
    """A customer and its complaints as they were at `at`."""

    customer_id: UUID
    at: datetime
    basis: TimeBasis
    customer: StreamAsOf
    complaints: list[StreamAsOf]
    corrupted: tuple[Corruption, ...] = ()
    """Unreadable values met on the way (they show as None in the states)."""

    def as_dict(self) -> dict[str, Any]:
        def one(s: StreamAsOf) -> dict[str, Any]:
            return {
                "stream_id": str(s.stream_id),
                "kind": s.kind,
                "version": s.version,
                "position": s.position,
                "state": s.state,
            }

        return {
            "customer_id": str(self.customer_id),
            "at": self.at.isoformat(),
            "basis": self.basis,
            "customer": one(self.customer),
            "complaints": [one(c) for c in self.complaints],
            "corrupted": [c.as_dict() for c in self.corrupted],
        }


_TIMESTAMP_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
"""How the store's JSON begins: the mapper writes an event's ``timestamp`` first."""

_PREFIX_LEN = len(_TIMESTAMP_PREFIX)
BUSINESS_TIME_SQL = (
    f"(CASE WHEN substring(e.state FROM 1 FOR {_PREFIX_LEN})"
    f" = '\\x{_TIMESTAMP_PREFIX.hex()}'::bytea"
    f" THEN split_part(encode(substring(e.state FROM {_PREFIX_LEN + 1} FOR 40), 'escape'),"
    " '\"', 1)"
    " ELSE convert_from(e.state, 'UTF8')::json -> 'timestamp' ->> '_data_' END)::timestamptz"
)
"""An event's business time from its stored state (never sealed: it is not personal).

Reads the ISO text right after the known prefix instead of parsing the whole JSON (4x
faster over a long stream); any other shape falls back to parsing. ``escape`` encoding
keeps a multi-byte character cut by the fixed-length slice from being an error."""


Versions = dict[UUID, tuple[int, int]]
"""Per stream, (version, position) of the latest event dated at or before a moment."""


def versions_as_of(
    app: CrmApplication, stream_ids: Sequence[UUID], at: datetime, basis: TimeBasis
) -> Versions:
    """Per stream, (version, position) of its latest event dated at or before `at`.

    One query: each stream is walked from its newest version down to the first event
    dated early enough. Recorded time comes from ``crm_event_meta`` (business time for
    an event saved without metadata).
    """
    return _versions_and_passed(app, stream_ids, at, basis)[0]


def _versions_and_passed(
    app: CrmApplication, stream_ids: Sequence[UUID], at: datetime, basis: TimeBasis
) -> tuple[Versions, list[Corruption]]:
    """`versions_as_of`, and the events passed over because their time is unreadable
    (their whole state no longer parses: they may have been in force, so they are named)."""
    when = (
        BUSINESS_TIME_SQL
        if basis == "business"
        else f"coalesce(m.recorded_at, {BUSINESS_TIME_SQL})"
    )
    join = (
        sql.SQL("LEFT JOIN {} m ON m.position = e.notification_id").format(
            _side_table(app, "crm_event_meta")
        )
        if basis == "recorded"
        else sql.SQL("")
    )
    statement = sql.SQL(
        "SELECT s.id, x.originator_version, x.notification_id "
        "FROM unnest(%s::uuid[]) AS s(id) CROSS JOIN LATERAL ("
        "SELECT e.originator_version, e.notification_id FROM {events} e {join} "
        "WHERE e.originator_id = s.id AND " + when + " <= %s "
        "ORDER BY e.originator_version DESC LIMIT 1) AS x"
    ).format(events=_events_table(app), join=join)
    try:
        rows = _query(app, statement, (list(stream_ids), at))
    except (DataError, psycopg.DataError):  # a state the query cannot parse
        return _versions_by_decoding(app, stream_ids, at, basis)
    found = {
        row["id"]: (int(row["originator_version"]), int(row["notification_id"])) for row in rows
    }
    return found, []


def _versions_by_decoding(
    app: CrmApplication, stream_ids: Sequence[UUID], at: datetime, basis: TimeBasis
) -> tuple[Versions, list[Corruption]]:
    """`_versions_and_passed` in Python, for a stream holding an event whose whole state
    no longer parses (the query cannot read its time and fails): such an event is passed
    over, as in `replay`. Slower (every event is decoded), so only after damage."""
    found: Versions = {}
    passed: list[Corruption] = []
    for stream in stream_ids:
        rows = stream_rows(app, stream)
        metas = app.crm_recorder.select_event_meta([p for p, _ in rows]) if rows else {}
        for position, stored in rows:
            opened = open_event(app, position, stored, redact=True)
            if opened.event is None:
                passed.extend(opened.corruptions)
            elif _time_of(opened.event, metas.get(position), basis) <= at:
                found[stream] = (stored.originator_version, position)
    return found, passed


def _merged(*groups: Iterable[Corruption]) -> list[Corruption]:
    """Corruptions once each (by position and field), oldest first."""
    unique = {(c.position, c.field): c for group in groups for c in group}
    return sorted(unique.values(), key=lambda c: c.position)


def state_as_of(
    app: CrmApplication,
    customer_id: UUID,
    at: datetime,
    *,
    basis: TimeBasis = "business",
    complaints: bool = True,
) -> AsOf | None:
    """The customer (and its complaints) at `at`; None if it did not exist yet.

    Raises `UnknownCustomer` when the id is not a customer's at all.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the moment needs a time zone")
    streams = customer_streams(app, customer_id) if complaints else [customer_id]
    found, passed = _versions_and_passed(app, streams, at, basis)
    if customer_id not in found:
        first = app.recorder.select_events(customer_id, limit=1)
        if not first or resolve_topic(first[0].topic) is not CustomerRegistered:
            raise UnknownCustomer(customer_id)
        return None
    app.keys.refresh({customer_id})
    corrupted: list[Corruption] = []

    def at_version(stream: UUID) -> tuple[Aggregate | None, StreamAsOf]:
        version, position = found[stream]
        aggregate, damaged = load(app, stream, version)
        corrupted.extend(damaged)
        state = aggregate_state(aggregate) if aggregate is not None else {}
        kind = type(aggregate).__name__.lower() if aggregate is not None else "complaint"
        return aggregate, StreamAsOf(stream, version, position, state, kind)

    aggregate, customer = at_version(customer_id)
    if aggregate is not None and not isinstance(aggregate, Customer):
        raise UnknownCustomer(customer_id)
    past = [at_version(s)[1] for s in streams[1:] if s in found]
    return AsOf(
        customer_id=customer_id,
        at=at,
        basis=basis,
        customer=customer,
        complaints=past,
        corrupted=tuple(_merged(passed, corrupted)),
    )


def customer_at(
    app: CrmApplication, customer_id: UUID, at: datetime
) -> tuple[Customer | None, list[Corruption]]:
    """The customer alone at `at` (business time), as an aggregate: None before it was
    registered, or when the id is not a customer's. Damaged values met while loading it
    come alongside, oldest first (they are None in the aggregate), and so does every
    event passed over because its time could not be read."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the moment needs a time zone")
    found, passed = _versions_and_passed(app, [customer_id], at, "business")
    if customer_id not in found:
        return None, passed
    aggregate, damaged = load(app, customer_id, found[customer_id][0])
    customer = aggregate if isinstance(aggregate, Customer) else None
    return customer, _merged(passed, damaged)
