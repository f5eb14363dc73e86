"""Reading past damaged events: the audit trail goes on and names what it could not read.

A flipped byte in a sealed field makes that one value unreadable (AES-GCM refuses it);
the rest of the event, and every other event, still reads. Audit readers therefore open
events tolerantly (`open_event`): an unreadable sealed field reads as None and is
reported as a `Corruption` with its global position, so callers can answer with the
rest and a coded error (GraphQL ``CORRUPTED``, a non-zero exit of ``crm audit``). An
event whose whole state no longer parses is reported the same way (field ``state``): it
is shown without data and its stream's state is carried past it unchanged.

`crm audit verify` tells whether such damage is tampering: the hash chain covers the
stored bytes, so any flipped byte is reported there as ``altered`` at the same position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic
from psycopg import sql

from commands.application import CrmApplication
from commands.mapper import CorruptedValue
from compliance.stored import positioned


@dataclass(frozen=True)
class Corruption:
    """One unreadable value in the event store, where it is and what failed."""

    position: int
    stream_id: UUID
    version: int
    type: str
    field: str
    reason: str

    def message(self) -> str:
        return (
            f"the event at position {self.position} ({self.type}, stream {self.stream_id} "
            f"v{self.version}) has an unreadable {self.field!r}: {self.reason}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stream_id": str(self.stream_id),
            "version": self.version,
            "type": self.type,
            "field": self.field,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Opened:
    """An event as far as it reads: None when its whole state is unreadable."""

    event: Any
    corruptions: tuple[Corruption, ...]


def event_type(stored: StoredEvent) -> str:
    """The CloudEvents type of a stored event, from its topic (never damaged by state)."""
    cls = resolve_topic(stored.topic)
    name = getattr(cls, "cloudevents_type", None)
    return str(name()) if callable(name) else stored.topic


def open_event(
    app: CrmApplication, position: int, stored: StoredEvent, *, redact: bool = False
) -> Opened:
    """Decode an event; unreadable sealed fields read as None and are reported."""
    damaged: list[str] = []
    try:
        event = app.crm_mapper.decode(stored, redact=redact, damaged=damaged)
    except CorruptedValue as error:
        return Opened(None, (corruption_of(position, stored, error.field, error.reason),))
    reason = "the sealed value does not authenticate or decode (altered bytes)"
    return Opened(event, tuple(corruption_of(position, stored, f, reason) for f in damaged))


def corruption_of(position: int, stored: StoredEvent, field: str, reason: str) -> Corruption:
    return Corruption(
        position=position,
        stream_id=UUID(str(stored.originator_id)),
        version=stored.originator_version,
        type=event_type(stored),
        field=field,
        reason=reason,
    )


def advance(aggregate: Any, opened: Opened, version: int) -> Any:
    """The aggregate after the event; past an unreadable one, unchanged but at its version
    (so the next event still follows). A stream whose creating event is unreadable has
    no state until nothing more can be applied: it stays None."""
    event = opened.event
    if event is None:
        if aggregate is not None:
            aggregate.version = version
        return aggregate
    if aggregate is None and not isinstance(event, CanInitAggregate):
        return None
    return event.mutate(aggregate)


def rebuild(
    app: CrmApplication, stream_id: UUID, version: int
) -> tuple[Aggregate | None, list[Corruption]]:
    """A stream at `version`, from its events alone, reading past damaged ones.

    For when the repository refuses (a damaged event or snapshot): slower, no snapshot.
    """
    aggregate: Any = None
    found: list[Corruption] = []
    for position, stored in stream_rows(app, stream_id, version):
        opened = open_event(app, position, stored)
        found.extend(opened.corruptions)
        aggregate = advance(aggregate, opened, stored.originator_version)
    return aggregate, found


def load(
    app: CrmApplication, stream_id: UUID, version: int
) -> tuple[Aggregate | None, list[Corruption]]:
    """The repository's copy at `version` (snapshots make it fast), or `rebuild`'s."""
    try:
        aggregate: Aggregate = app.repository.get(stream_id, version=version)
    except CorruptedValue:
        return rebuild(app, stream_id, version)
    return aggregate, []


def stream_rows(
    app: CrmApplication, stream_id: UUID, version: int | None = None
) -> Sequence[tuple[int, StoredEvent]]:
    """(position, stored event) of a stream up to `version` (None: all), oldest first."""
    recorder = app.crm_recorder
    statement = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE originator_id = %s AND originator_version <= %s ORDER BY originator_version"
    ).format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (stream_id, version if version is not None else 2**62))
        return [positioned(row) for row in curs.fetchall()]
