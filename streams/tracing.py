"""The projection write joins each event's trace (docs/observability.md).

The relay gives every message a W3C ``traceparent`` whose trace id is the event's
correlation id, which the gateway set to its request's trace id; so a span started here
with that parent lands in the same trace as the GraphQL request and its command. One
span per trace per batch (a command's several events share one), linked to the batch's
own span. With tracing off (no SDK configured) the batch span does not record and
nothing else is made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from time import time_ns

from opentelemetry import propagate, trace

from streams.parking import RawMessage

_tracer = trace.get_tracer("crm.streams")


def trace_parents(messages: Sequence[RawMessage]) -> dict[str, str]:
    """Trace id -> the first ``traceparent`` of that trace in the batch."""
    parents: dict[str, str] = {}
    for message in messages:
        for name, value in message.headers:
            if name == "traceparent":
                text = value.decode("ascii", "replace")
                parts = text.split("-")
                if len(parts) == 4 and len(parts[1]) == 32:
                    parents.setdefault(parts[1], text)
    return parents


@contextmanager
def traced_batch(worker: str, messages: Sequence[RawMessage]) -> Iterator[None]:
    """Spans for applying `messages`: the batch's, and one per trace it carries."""
    batch = _tracer.start_span(
        f"{worker} batch", attributes={"messaging.batch.message_count": len(messages)}
    )
    if not batch.is_recording():
        yield
        return
    started = time_ns()
    try:
        yield
    finally:
        ended = time_ns()
        link = trace.Link(batch.get_span_context())
        for parent in trace_parents(messages).values():
            context = propagate.extract({"traceparent": parent})
            span = _tracer.start_span(
                f"project {worker}",
                context=context,
                kind=trace.SpanKind.CONSUMER,
                start_time=started,
                links=[link],
            )
            span.end(end_time=ended)
        batch.end(end_time=ended)
