"""Each GraphQL operation observed: a trace span and a latency histogram.

The span continues a caller's W3C ``traceparent`` (a browser app or another service) and
is the parent of the command's span, so one trace runs from the request through the
commit; the commit's correlation id is the trace id (`trace_correlation_id`), which the
relay puts in each message's ``traceparent``, so the projection write joins the trace too.

`crm_graphql_request_seconds{operation,type,outcome}` is per process; with several
gateway processes `crm up` sets ``PROMETHEUS_MULTIPROC_DIR`` and `/metrics` sums them.
Operation names come from clients, so only the first `MAX_OPERATIONS` distinct plain
names get their own label; the rest count as ``other``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from time import perf_counter
from uuid import UUID

from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from strawberry.extensions import SchemaExtension

from commands.crypto import random_uuid

MAX_OPERATIONS = 200
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_registry = CollectorRegistry()
REQUEST_SECONDS = Histogram(
    "crm_graphql_request_seconds",
    "GraphQL operations served, by operation name, type and outcome",
    ["operation", "type", "outcome"],
    buckets=BUCKETS,
    registry=_registry,
)
_tracer = trace.get_tracer("crm.gateway")
_named: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if name in _named:
        return name
    if _PLAIN_NAME.fullmatch(name) and len(_named) < MAX_OPERATIONS:
        _named.add(name)
        return name
    return "other"


def request_metrics() -> bytes:
    """The exposition of the histogram: this process's, or every gateway process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(_registry)


def trace_correlation_id() -> UUID:
    """The current trace id as a UUID (the events' correlation id), or a new one (from
    `random_uuid`: `uuid4()`'s system call handed the GIL to the committer's thread)."""
    context = trace.get_current_span().get_span_context()
    return UUID(int=context.trace_id) if context.is_valid else random_uuid()


class ObserveOperations(SchemaExtension):
    """One span and one histogram observation per query or mutation."""

    def on_operation(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        headers = dict(request.headers) if request is not None else {}
        started = perf_counter()
        with _tracer.start_as_current_span(
            "graphql", context=propagate.extract(headers), kind=trace.SpanKind.SERVER
        ) as span:
            yield
            execution = self.execution_context
            try:
                kind = execution.operation_type.value
            except RuntimeError:  # the document did not parse
                kind = "invalid"
            name = operation_label(execution.operation_name)
            failed = bool(execution.result and execution.result.errors)
            span.update_name(f"graphql {kind} {name}")
            span.set_attribute("graphql.operation.type", kind)
            span.set_attribute("graphql.operation.name", name)
            if failed:
                span.set_status(trace.StatusCode.ERROR)
        REQUEST_SECONDS.labels(name, kind, "error" if failed else "ok").observe(
            perf_counter() - started
        )
