"""One envelope as the bytes and headers the relay hands the producer, built once.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from streams.envelope import encode
from streams.signing import SIGNATURE_HEADER, sign

Header = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class WireMessage:
    key: bytes
    value: bytes
    headers: list[Header]


def traceparent(envelope: Mapping[str, Any]) -> bytes:
    """`00-<trace id>-<parent span id>-01` (sampled) from the stored correlation and id."""
    event_id = UUID(envelope["id"]).hex
    correlation = envelope.get("correlationid")
    trace_id = UUID(correlation).hex if correlation else event_id
    return f"00-{trace_id}-{event_id[16:]}-01".encode("ascii")


def wire_message(signing_key: bytes, envelope: Mapping[str, Any]) -> WireMessage:
    key, value = envelope["subject"].encode(), encode(envelope)
    headers = [
        (SIGNATURE_HEADER, sign(signing_key, key, value)),  # workers apply only these
        ("ce_specversion", b"1.0"),
        ("ce_id", envelope["id"].encode()),
        ("ce_type", envelope["type"].encode()),
        ("ce_source", envelope["source"].encode()),
        ("ce_time", envelope["time"].encode()),
        ("traceparent", traceparent(envelope)),
    ]
    return WireMessage(key, value, headers)
