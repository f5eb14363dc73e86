"""Spans of the write side: each command, each commit (docs/observability.md).

A command's span is a child of whatever span is current in the caller (the gateway's
GraphQL operation); a group-commit round runs in the committer's thread, so its span
links every caller's span instead of having one parent. Without a configured SDK these
are OpenTelemetry's no-op spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace

_tracer = trace.get_tracer("crm.commands")


def current_span_context() -> trace.SpanContext:
    return trace.get_current_span().get_span_context()


@contextmanager
def command_span(type_name: str) -> Iterator[None]:
    with _tracer.start_as_current_span(
        f"command {type_name}", attributes={"crm.command": type_name}
    ):
        yield


@contextmanager
def commit_span(commands: int) -> Iterator[None]:
    """Saving one attempt's events, metadata and chain links (one transaction)."""
    with _tracer.start_as_current_span("commit", attributes={"crm.commands": commands}):
        yield


@contextmanager
def round_span(callers: Sequence[trace.SpanContext]) -> Iterator[None]:
    """A group-commit round, linked to the span of each command it records."""
    links = [trace.Link(caller) for caller in callers if caller.is_valid]
    with _tracer.start_as_current_span(
        "group commit round", attributes={"crm.commands": len(callers)}, links=links
    ):
        yield
