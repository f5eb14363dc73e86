"""One envelope as the bytes and headers the relay hands the producer, built once: at
commit (`EnvelopesAtCommit`, stored in `crm_event_envelopes`), or by the relay from the
stored event where no current row exists (`wire_message`); both give the same bytes.

The value is the CloudEvents structured-mode JSON (`streams.envelope.encode`), signed
(`crm-sig`, `streams.signing`). The same attributes also go out as CloudEvents Kafka
binary-mode headers (`ce_id`, `ce_type`, `ce_source`, `ce_time`, `ce_specversion`), so a
router or a tracing tool can read them without parsing the value, plus a W3C
`traceparent`.

The trace context: the event store keeps each event's command correlation id
(`crm_event_meta.correlation_id`), not a W3C trace context, so the trace id IS the
correlation id (every event of one command, and of the commands it caused, share one
trace) and the parent span id is taken from the envelope id. Both are derived from
stored data, so a re-published message carries the same `traceparent` as the first
copy. An event without a correlation id (none recorded) gets its envelope id as its
trace id: a trace of its own, still stable across re-publishing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from commands.mapper import SEALED, MappedEvent
from commands.recorder import EnvelopeRow, Provenance
from events import CrmEvent, CustomerScoped
from streams.envelope import ID_NAMESPACE, SOURCE, RecordedMeta, data_fields
from streams.signing import SIGNATURE_HEADER, sign

Header = tuple[str, str | bytes | None]  # as confluent-kafka types its headers
_NAMESPACE = ID_NAMESPACE.bytes
_JSON = orjson.OPT_NON_STR_KEYS
_SOURCE = SOURCE.encode()
WIRE_PREFIX = "sealed:"
"""Personal fields travel as ``"sealed:<base64>"`` strings (`streams.source`)."""


@dataclass(frozen=True, slots=True)
class WireMessage:
    key: bytes
    value: bytes
    headers: list[Header]


def envelope_id_hex(stream: str, version: int) -> str:
    """`streams.envelope.envelope_id` as 32 hex digits without building `UUID`s: a UUID 5
    is SHA-1 of namespace and name with the version and variant bits set."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + f"{stream}:{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def _dashed(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


@cache
def event_class_of(topic: str) -> type[CrmEvent]:
    cls: type[CrmEvent] = resolve_topic(topic)
    return cls


def traceparent(event_id_hex: str, correlation_hex: str | None) -> str:
    """`00-<trace id>-<parent span id>-01` (sampled) from the stored correlation and id."""
    return f"00-{correlation_hex or event_id_hex}-{event_id_hex[16:]}-01"


def _json_default(value: Any) -> Any:
    """What orjson does not write itself, written as `streams.envelope._plain` does."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@cache
def _type_of(cls: type[CrmEvent]) -> tuple[str, bool]:
    return cls.cloudevents_type(), issubclass(cls, CustomerScoped)


def current_type(cls: type[CrmEvent]) -> str:
    """The CloudEvents type a message of `cls` carries now (its class version included)."""
    return _type_of(cls)[0]


@dataclass(frozen=True)
class EnvelopesAtCommit:
    """The messages of a save's events, drafted before the save takes the events table's
    lock from the states the mapper encoded (`commands.recorder.EnvelopeEncoder`), then
    completed with their positions: the same bytes and signature as `wire_message` builds
    from the stored event later (a test compares them), so the relay only moves bytes."""

    signing_key: bytes

    def __call__(
        self,
        events: Sequence[MappedEvent],
        provenance: Sequence[Provenance],
        recorded_at: datetime,
    ) -> list[EnvelopeDraft]:
        recorded = recorded_at.isoformat()  # a save's events share their recorded time
        drafts = []
        for event, (actor, correlation, causation) in zip(events, provenance, strict=True):
            state = event.sealed_state
            sealed: Mapping[str, str] = state.get(SEALED) or {}
            cls = event_class_of(event.topic)
            data = {
                name: WIRE_PREFIX + sealed[name] if name in sealed else state.get(name)
                for name in data_fields(cls)
            }
            stream = cast(UUID, event.originator_id)
            drafts.append(
                _draft(
                    self.signing_key,
                    cls,
                    Recorded(stream, event.originator_version, state, data),
                    recorded,
                    actor,
                    correlation,
                    causation,
                )
            )
        return drafts


@dataclass(frozen=True, slots=True)
class Recorded:
    """What an envelope needs of the event itself: its stream, version, state (for the
    time and the customer) and its data fields as they go on the wire."""

    stream: UUID
    version: int
    state: Mapping[str, Any]
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EnvelopeDraft:
    """An envelope but its position: the JSON before and after that field, and the
    attributes its headers carry. `at` completes and signs it (the signature covers the
    position)."""

    type: str
    subject: str
    id: str
    time: str
    traceparent: str
    head: bytes
    tail: bytes
    signing_key: bytes

    def at(self, position: int) -> EnvelopeRow:
        value = b'%s,"position":%d,%s' % (self.head, position, self.tail)
        signature = sign(self.signing_key, self.subject.encode(), value)
        return EnvelopeRow(
            self.type,
            self.subject,
            self.id,
            self.time,
            self.traceparent,
            signature.decode("ascii"),
            value,
        )


def _draft(
    signing_key: bytes,
    cls: type[CrmEvent],
    event: Recorded,
    recorded_at: str,
    actor: str | None,
    correlation: UUID | None,
    causation: UUID | None,
) -> EnvelopeDraft:
    """The same JSON as `encode(to_envelope(...))` once completed (a test compares them
    event by event), written by orjson straight from the state rather than through a dict
    of converted strings and `json.dumps`; in two parts, around the position."""
    ce_type, customer_scoped = _type_of(cls)
    stream = str(event.stream)
    customer = event.state["customer_id"] if customer_scoped else event.stream
    subject = stream if customer == event.stream else str(customer)
    id_hex = envelope_id_hex(stream, event.version)
    event_id = _dashed(id_hex)
    time = event.state["timestamp"].isoformat()
    before = {
        "specversion": "1.0",
        "id": event_id,
        "type": ce_type,
        "source": SOURCE,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": event.data,
    }
    after = {
        "stream": stream,
        "version": event.version,
        "recordedat": recorded_at,
        "actor": actor,
        "correlationid": str(correlation) if correlation else None,
        "causationid": str(causation) if causation else None,
    }
    return EnvelopeDraft(
        type=ce_type,
        subject=subject,
        id=event_id,
        time=time,
        traceparent=traceparent(id_hex, correlation.hex if correlation else None),
        head=orjson.dumps(before, default=_json_default, option=_JSON)[:-1],  # no closing }
        tail=orjson.dumps(after, default=_json_default, option=_JSON)[1:],  # no opening {
        signing_key=signing_key,
    )


def row_message(row: EnvelopeRow) -> WireMessage:
    """The Kafka message of an envelope row."""
    key = row.subject.encode()
    headers: list[Header] = [
        (SIGNATURE_HEADER, row.signature.encode()),  # workers apply only signed messages
        ("ce_specversion", b"1.0"),
        ("ce_id", row.id.encode()),
        ("ce_type", row.type.encode()),
        ("ce_source", _SOURCE),
        ("ce_time", row.time.encode()),
        ("traceparent", row.traceparent.encode()),
    ]
    return WireMessage(key, row.value, headers)


def wire_message(
    signing_key: bytes, cls: type[CrmEvent], state: Mapping[str, Any], meta: RecordedMeta
) -> WireMessage:
    """The message for one stored event, from its decoded (upcast) state."""
    event = Recorded(
        state["originator_id"],
        state["originator_version"],
        state,
        {name: state.get(name) for name in data_fields(cls)},
    )
    draft = _draft(
        signing_key,
        cls,
        event,
        meta.recorded_at.isoformat(),
        meta.actor,
        meta.correlation_id,
        meta.causation_id,
    )
    return row_message(draft.at(meta.position))
