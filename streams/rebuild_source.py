"""The event store as a rebuild reads it: one customer-hash partition, decoded in one step.

The live path turns each stored event into a wire envelope (fields sealed again for the
topic) and opens it on the other side; a rebuild needs neither. Here the mapper decodes
and opens each stored event once (keys prefetched per batch) and `incoming` builds the
`IncomingEvent` the projections read straight from the plain state: no envelope dict,
no ISO strings or UUID text parsed back, no JSON or base64 in between. It equals
`parse_envelope(to_envelope(...))` field for field (a unit test holds it to that).

Partitions are by the event's *subject* (the customer whose checkpoints it moves: a
complaint's events belong to its customer), computed in SQL so that each worker reads
only its own rows: every event of a customer lands in one partition, in position order,
like one Kafka partition delivers it to the live processor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Final
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import Connection, sql

from commands.application import CrmApplication
from commands.recorder import EVENT_META
from events import BY_TYPE, CrmEvent, CustomerForgotten, CustomerScoped
from projections.incoming import IncomingEvent
from schemas.generate import ENVELOPE_FIELDS
from streams.envelope import ID_NAMESPACE, RecordedMeta

SCOPED_TOPICS: Final = sorted(
    get_topic(c) for c in BY_TYPE.values() if issubclass(c, CustomerScoped)
)
"""Topics whose subject is the `customer_id` in their state, not their stream."""

SUBJECT_SQL: Final = (
    "CASE WHEN e.topic = ANY(%(scoped)s)"
    " THEN convert_from(e.state, 'UTF8')::jsonb #>> '{customer_id,_data_}'"
    " ELSE replace(e.originator_id::text, '-', '') END"
)
"""The subject as 32 hex digits (how the JSON transcoder stores a UUID)."""


def partition_sql(hex_subject: str) -> str:
    """Which of %(parts)s partitions a subject (hex text) falls in; stable across runs."""
    return f"mod(hashtext({hex_subject})::bigint + 2147483648, %(parts)s)"


READ_SQL: Final = """
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, s.subject,
       m.recorded_at, m.actor, m.correlation_id, m.causation_id
FROM {events} AS e
CROSS JOIN LATERAL (SELECT {subject} AS subject) AS s
LEFT JOIN {meta} AS m ON m.position = e.notification_id
WHERE e.notification_id > %(after)s AND e.notification_id <= %(upto)s
  AND {partition} = %(part)s
ORDER BY e.notification_id
"""
"""A window of positions, not a LIMIT: with the partition filter, PostgreSQL would read
(and sort) every event after `after` for each batch, quadratic over a whole rebuild."""


@dataclass(frozen=True)
class Partition:
    """Partition `part` of `parts` (0 <= part < parts); `Partition(0, 1)` is everything."""

    part: int
    parts: int

    def __post_init__(self) -> None:
        if self.parts < 1 or not 0 <= self.part < self.parts:
            raise ValueError(f"partition: need 0 <= part < parts, got {self.part} of {self.parts}")


EVERYTHING: Final = Partition(0, 1)


@dataclass(frozen=True)
class DecodedBatch:
    events: list[IncomingEvent]
    last_position: int


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


_NAMESPACE_BYTES: Final = ID_NAMESPACE.bytes


def event_id(stream: UUID, version: int) -> str:
    """`str(envelope_id(stream, version))` without building UUID objects (a rebuild
    computes one per event): uuid5 is SHA-1 over namespace and name, version and
    variant bits set, in the 8-4-4-4-12 form."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{stream}:{version}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_SCALARS: Final = frozenset((str, int, float, bool, type(None)))


def _plain(value: Any) -> Any:
    """`streams.envelope._plain` (JSON-safe values), the common types answered first;
    a unit test holds the two to the same output."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class _Shape:
    """What every event of one class shares, worked out once per class."""

    type_name: str
    kind: str
    schema_version: int
    scoped: bool
    fields: tuple[str, ...]
    event_class: type[CrmEvent] | None


@cache
def _shape(cls: type[CrmEvent]) -> _Shape:
    return _Shape(
        type_name=cls.cloudevents_type(),
        kind=cls.TYPE,
        schema_version=int(getattr(cls, "class_version", 1)),
        scoped=issubclass(cls, CustomerScoped),
        fields=tuple(f.name for f in fields(cls) if f.name not in ENVELOPE_FIELDS),
        event_class=BY_TYPE.get(cls.TYPE),
    )


def incoming(cls: type[CrmEvent], state: Mapping[str, Any], meta: RecordedMeta) -> IncomingEvent:
    """The event as the projections read it, from its decoded (current-version) state."""
    shape = _shape(cls)
    stream = _uuid(state["originator_id"])
    version = int(state["originator_version"])
    return IncomingEvent(
        position=meta.position,
        type_name=shape.type_name,
        kind=shape.kind,
        schema_version=shape.schema_version,
        subject_id=_uuid(state["customer_id"]) if shape.scoped else stream,
        stream_id=stream,
        stream_version=version,
        occurred_at=state["timestamp"],
        recorded_at=meta.recorded_at,
        actor=meta.actor,
        event_id=event_id(stream, version),
        data={name: _plain(state.get(name)) for name in shape.fields},
        event_class=shape.event_class,
    )


class StoreDecoder:
    """Reads a partition of the store after a position and decodes it into `IncomingEvent`s.

    Table names are qualified with the store's `schema`: the connection reading may have
    its search_path on the rebuild's shadow schema."""

    def __init__(self, app: CrmApplication, schema: str) -> None:
        self.mapper = app.crm_mapper
        self.keys = app.keys
        self.events_table = sql.Identifier(schema, app.crm_recorder.events_table_name)
        self.query = sql.SQL(READ_SQL).format(
            events=self.events_table,
            meta=sql.Identifier(schema, EVENT_META),
            subject=sql.SQL(SUBJECT_SQL),
            partition=sql.SQL(partition_sql("s.subject")),
        )

    def count(self, conn: Connection[Any], upto: int) -> int:
        """Events recorded at or below `upto` (what the progress bar counts to)."""
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE notification_id <= %s").format(
                self.events_table
            ),
            [upto],
        ).fetchone()
        return int(row[0]) if row else 0

    def newest(self, conn: Connection[Any]) -> int:
        """The store's newest position (0 when empty)."""
        row = conn.execute(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(self.events_table)
        ).fetchone()
        return int(row[0]) if row else 0

    def read(
        self,
        conn: Connection[Any],
        after: int,
        upto: int,
        size: int,
        partition: Partition = EVERYTHING,
    ) -> DecodedBatch:
        """The events of `partition` in (after, min(upto, after + size × parts)], about
        `size` of them, decoded, in position order; `last_position` is the window's end,
        so the caller is done when it reaches `upto`."""
        end = min(upto, after + size * partition.parts)
        params = {
            "after": after,
            "upto": end,
            "scoped": SCOPED_TOPICS,
            "parts": partition.parts,
            "part": partition.part,
        }
        rows = conn.execute(self.query, params).fetchall()
        return DecodedBatch(self.decode(rows) if rows else [], max(after, end))

    def decode(self, rows: Sequence[Sequence[Any]]) -> list[IncomingEvent]:
        self.keys.prefetch({UUID(subject) for subject in {str(row[5]) for row in rows}})
        return [self._event(row) for row in rows]

    def _event(self, row: Sequence[Any]) -> IncomingEvent:
        position, stream, version, topic, state, subject, recorded_at, actor, corr, cause = row
        cls = resolve_topic(topic)
        stored = StoredEvent(
            originator_id=stream, originator_version=version, topic=topic, state=bytes(state)
        )
        # Opened with the customer's key (None once forgotten); an unreadable field reads
        # None like the live opener has it, rather than stopping the rebuild.
        damaged: list[str] = []
        decoded = self.mapper.decode_state(stored, cls=cls, damaged=damaged)
        if issubclass(cls, CustomerForgotten):
            self.keys.tombstone(UUID(str(subject)))
        meta = RecordedMeta(
            position=int(position),
            recorded_at=recorded_at or decoded["timestamp"],
            actor=actor,
            correlation_id=corr,
            causation_id=cause,
        )
        return incoming(cls, decoded, meta)
