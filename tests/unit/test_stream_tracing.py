"""The projection write continues each message's trace (its `traceparent` header)."""

from __future__ import annotations

from streams.parking import RawMessage
from streams.tracing import trace_parents, traced_batch
from tests.support.tracing import recorded_spans

A = "4bf92f3577b34da6a3ce929d0e0e4736"
B = "0af7651916cd43dd8448eb211c80319c"


def message(offset: int, parent: str | None) -> RawMessage:
    headers = (("traceparent", parent.encode()),) if parent else ()
    return RawMessage("t", 0, offset, b"k", b"{}", headers)


def test_one_span_per_trace_continues_the_message_trace() -> None:
    spans = recorded_spans()
    spans.clear()
    messages = [
        message(1, f"00-{A}-00f067aa0ba902b7-01"),
        message(2, f"00-{A}-1111111111111111-01"),  # same command, same trace
        message(3, f"00-{B}-2222222222222222-01"),
        message(4, None),
        message(5, "garbage"),
    ]
    with traced_batch("projections", messages):
        pass
    finished = spans.get_finished_spans()
    project = [s for s in finished if s.name == "project projections"]
    assert sorted(f"{s.context.trace_id:032x}" for s in project) == sorted([A, B])
    first = next(s for s in project if f"{s.context.trace_id:032x}" == A)
    assert first.parent is not None and f"{first.parent.span_id:016x}" == "00f067aa0ba902b7"
    batch = next(s for s in finished if s.name == "projections batch")
    assert all(s.links[0].context.span_id == batch.context.span_id for s in project)


def test_headers_without_a_trace_give_no_parent() -> None:
    assert trace_parents([message(1, None), message(2, "00-short-x-01")]) == {}
