"""Reads recorded events from the event store as Kafka envelopes, in position order.

Personal fields leave the store as they are stored: sealed under the customer's key.
On the wire they become ``"sealed:<base64>"`` strings, so the topic never carries
personal data in clear, and forgetting (destroying the key) makes every copy on every
broker unreadable without touching the topic. Processors open them with the key ring.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Notification
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from commands.application import CrmApplication
from commands.crypto import UnreadableCiphertext, field_aad, open_sealed, seal
from commands.mapper import SEALED, WHOLE_STATE, CorruptedValue, subject_of
from commands.recorder import EVENT_ENVELOPES, EVENT_META, EnvelopeRow
from commands.sealed_reader import SealedSource
from events import BY_TYPE, CrmEvent
from streams.envelope import RecordedMeta, event_class, to_envelope
from streams.wire import (
    WIRE_PREFIX,
    WireMessage,
    current_type,
    event_class_of,
    row_message,
    wire_message,
)

__all__ = ["WIRE_PREFIX", "EnvelopeOpener", "EventSource", "PrebuiltEvent", "StoredEvent"]


@dataclass(frozen=True)
class SourcedBatch:
    envelopes: list[dict[str, Any]]
    last_position: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One recorded event as the relay encodes it: its class, its upcast state with
    personal fields as wire tokens, and what the store knows about it."""

    cls: type[CrmEvent]
    state: dict[str, Any]
    meta: RecordedMeta


@dataclass(frozen=True, slots=True)
class PrebuiltEvent:
    """One recorded event whose message was built at commit (`crm_event_envelopes`)."""

    position: int
    envelope: EnvelopeRow


@dataclass(frozen=True)
class StoredBatch:
    events: list[StoredEvent | PrebuiltEvent]
    last_position: int


class EventSource:
    """Envelopes after a position, straight from the event store (never a read model)."""

    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self.transcoder = app.crm_mapper.transcoder
        recorder = app.crm_recorder
        schema = Identifier(recorder.datastore.schema)
        tables = {
            "events": SQL("{}.{}").format(schema, Identifier(recorder.events_table_name)),
            "meta": SQL("{}.{}").format(schema, Identifier(EVENT_META)),
            "wire": SQL("{}.{}").format(schema, Identifier(EVENT_ENVELOPES)),
        }
        # Each join repeats the position bound: without it PostgreSQL merge-joins from the
        # side table's first row, a scan that grows with every batch already read.
        stored_read = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
            "e.state, m.recorded_at, m.actor, m.correlation_id, m.causation_id "
            "FROM {events} e LEFT JOIN {meta} m "
            "ON m.position = e.notification_id AND m.position > %(after)s "
            "WHERE e.notification_id > %(after)s {only} "
            "ORDER BY e.notification_id LIMIT %(limit)s"
        )
        self._stored_read = stored_read.format(only=SQL(""), **tables)
        self._stored_at = stored_read.format(
            only=SQL("AND e.notification_id = ANY(%(only)s)"), **tables
        )
        self._forget_messages = SQL(
            "WITH gone AS (DELETE FROM {wire} WHERE position IN (SELECT position FROM {wire} "
            "WHERE position > %s AND position <= %s ORDER BY position LIMIT %s) "
            "RETURNING position) SELECT max(position) AS last, count(*) AS deleted FROM gone"
        ).format(**tables)
        # Positions, and the message built at commit where there is one.
        self._wire_read = SQL(
            "SELECT e.notification_id, w.type, w.subject, w.id, w.time, w.traceparent, "
            "w.signature, w.value FROM {events} e LEFT JOIN {wire} w "
            "ON w.position = e.notification_id AND w.position > %(after)s "
            "WHERE e.notification_id > %(after)s ORDER BY e.notification_id LIMIT %(limit)s"
        ).format(**tables)

    def max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def read_after(self, position: int, limit: int) -> SourcedBatch:
        events = self.read_events_after(position, limit)
        envelopes = [to_envelope(e.cls, e.state, e.meta) for e in events]
        return SourcedBatch(envelopes, events[-1].meta.position if events else position)

    def forget_messages(self, *, after: int, upto: int, at_most: int) -> int:
        """Delete the messages built at commit for positions in (`after`, `upto`], at most
        `at_most` of them, oldest first (the relay's retention: `streams.relay.
        KEEP_MESSAGES`); returns the position up to which none is left."""
        if upto <= after:
            return after
        with self.app.crm_recorder.datastore.get_connection() as conn:
            found = conn.execute(self._forget_messages, (after, upto, at_most)).fetchone()
        if found is None or found["deleted"] < at_most:
            return upto  # nothing more in the range
        return int(found["last"])

    def read_events_after(self, position: int, limit: int) -> list[StoredEvent]:
        """The events after `position`, each decoded once (messages built at commit unused)."""
        return self._read_stored(self._stored_read, {"after": position, "limit": limit})

    def read_stored_after(self, position: int, limit: int) -> StoredBatch:
        """The events after `position` as the relay sends them: the message built at
        commit, else (recorded without one, or before an upcaster) the event decoded once,
        which the relay encodes straight to bytes (`streams.wire`). Everything else reads
        them as envelopes (`read_after`).

        One query for the positions and their messages; a second only for events without
        one. Events are joined to `crm_event_meta` in the query, not read apart: two
        queries cost two checkouts and four round trips a batch where two do.
        """
        params = {"after": position, "limit": limit}
        current = _current_types()
        with self.app.crm_recorder.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            rows = cursor.execute(self._wire_read, params, prepare=True, binary=True).fetchall()
            # No message, or one built before an upcaster changed its class: read whole.
            unbuilt = [row[0] for row in rows if row[1] not in current]
            whole = (
                cursor.execute(
                    self._stored_at, {**params, "only": unbuilt}, prepare=True, binary=True
                ).fetchall()
                if unbuilt
                else []
            )
        if not rows:
            return StoredBatch([], position)
        stored = {row[0]: self._stored(*row) for row in whole}
        events = [
            PrebuiltEvent(row[0], EnvelopeRow(*row[1:])) if row[1] in current else stored[row[0]]
            for row in rows
        ]
        return StoredBatch(events, rows[-1][0])

    def _read_stored(self, statement: Composed, params: Mapping[str, Any]) -> list[StoredEvent]:
        with self.app.crm_recorder.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            rows = cursor.execute(statement, params, prepare=True, binary=True).fetchall()
        return [self._stored(*row) for row in rows]

    def _stored(
        self,
        position: int,
        stream: UUID,
        version: int,
        topic: str,
        state: bytes,
        recorded_at: datetime | None,
        actor: str | None,
        correlation_id: UUID | None,
        causation_id: UUID | None,
    ) -> StoredEvent:
        notification = Notification(
            id=position,
            originator_id=stream,
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        cls = event_class_of(topic)
        wire_state = self._wire_state(cls, notification)
        recorded = RecordedMeta(
            position=position,
            recorded_at=recorded_at or wire_state["timestamp"],
            actor=actor,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return StoredEvent(cls, wire_state, recorded)

    def _wire_state(self, cls: type[CrmEvent], notification: Notification) -> dict[str, Any]:
        """The upcast state with personal fields as wire tokens, from ONE decode of the
        stored bytes (the relay decoded them twice: a redacted decode for the upcast state,
        then again for the sealed blobs; 20% of its time went to building envelopes).

        Same result as `CrmMapper.decode_state(redact=True)` plus the tokens: personal
        fields are None while the upcasters run, then get their sealed values back.
        """
        stream = notification.originator_id
        try:
            state: dict[str, Any] = self.transcoder.decode(notification.state)
        except Exception as error:
            raise CorruptedValue(
                cast(UUID, stream), notification.originator_version, WHOLE_STATE, str(error)
            ) from error
        sealed: dict[str, str] = state.pop(SEALED, None) or {}
        clear = {n: state[n] for n in cls.PERSONAL if state.get(n) is not None and n not in sealed}
        state["originator_id"] = stream
        state["originator_version"] = notification.originator_version
        for name in (*sealed, *clear):
            state[name] = None
        upcast(cls, state)
        for name, blob in sealed.items():
            state[name] = WIRE_PREFIX + blob
        if clear:
            self._seal_clear_fields(cls, clear, state)
        return state

    def _seal_clear_fields(
        self, cls: type[CrmEvent], clear: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        """Personal fields stored in clear (recorded before the field was sealed, e.g. a
        v2 touch's `outcome`) go out sealed under the customer's key like the others, so
        the topic never carries them in clear and processors still open them; once the
        customer is forgotten they go out as null."""
        subject = subject_of(cls, state, state["originator_id"])
        cipher = self.app.keys.for_read(subject)
        if cipher is None:
            return  # already None
        for name, value in clear.items():
            blob = seal(cipher, self.transcoder.encode(value), field_aad(subject, name))
            state[name] = WIRE_PREFIX + base64.b64encode(blob).decode("ascii")


def upcast(cls: type[CrmEvent], state: dict[str, Any]) -> None:
    """Bring a stored state up to the class's version, as the mapper does on read."""
    class_version = getattr(cls, "class_version", 1)
    from_version = state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1


def message_of(signing_key: bytes, event: StoredEvent | PrebuiltEvent) -> WireMessage:
    """What the relay sends for an event `read_stored_after` returned."""
    if isinstance(event, PrebuiltEvent):
        return row_message(event.envelope)
    return wire_message(signing_key, event.cls, event.state, event.meta)


@cache
def _current_types() -> frozenset[str]:
    """The CloudEvents type of every event class as this build writes it."""
    return frozenset(current_type(cls) for cls in BY_TYPE.values())


class EnvelopeOpener:
    """Opens the sealed personal fields of envelopes with the key ring (None once forgotten)."""

    def __init__(self, source: SealedSource) -> None:
        self.source = source  # the store application or, in a worker, a SealedReader
        self.transcoder = source.transcoder

    def open_all(self, envelopes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        subjects = {UUID(str(e["subject"])) for e in envelopes}
        self.source.keys.prefetch(subjects)
        return [self.open(e) for e in envelopes]

    def open(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        opened = dict(envelope)
        data = dict(envelope.get("data") or {})
        subject = UUID(str(envelope["subject"]))
        cls = event_class(envelope)
        if cls is not None and cls.TYPE == "crm.customer.forgotten":
            self.source.keys.tombstone(subject)
        sealed = [k for k, v in data.items() if isinstance(v, str) and v.startswith(WIRE_PREFIX)]
        if sealed:
            cipher = self.source.keys.for_read(subject)
            for name in sealed:
                data[name] = self._open_field(cipher, subject, name, data[name])
        opened["data"] = data
        return opened

    def _open_field(self, cipher: Any, subject: UUID, name: str, token: str) -> Any:
        if cipher is None:
            return None
        blob = base64.b64decode(token[len(WIRE_PREFIX) :])
        try:
            return self.transcoder.decode(open_sealed(cipher, blob, field_aad(subject, name)))
        except UnreadableCiphertext:
            return None
