"""Property: any at-least-once delivery equals one clean delivery.

Hypothesis builds a few customers' histories (purchases, touches, tags, stages,
complaints, a merge, a forget), then a delivery that keeps each customer's order but
rewinds and re-sends stretches (as after a crash), interleaves customers at random and
cuts the stream into random batches. Every read-model table must end up identical.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.apply import apply_envelopes
from projections.schema import create_all, drop_all
from tests.integration.support.read_models import Conn, dump
from tests.support.projection_events import T0, Envelope, Events, days

pytestmark = pytest.mark.integration


OPERATIONS = ("purchase", "touch", "tag", "untag", "move", "complain", "need")
STAGES = ("CONTACTED", "QUALIFIED", "PROPOSAL", "WON", "LOST")


def history(data: st.DataObject) -> list[Envelope]:
    """Random histories of 1-3 customers, in the order the event store recorded them."""
    events = Events()
    customers = []
    recorded: list[Envelope] = []
    for i in range(data.draw(st.integers(1, 3), label="customers")):
        cid, registered = events.register(f"Person {i}", at=T0, email=f"p{i}@example.com")
        customers.append(cid)
        recorded.append(registered)
    stage: dict[Any, str] = dict.fromkeys(customers, "LEAD")
    open_complaints: list[tuple[Any, Any]] = []
    for day in range(data.draw(st.integers(0, 12), label="events")):
        cid = data.draw(st.sampled_from(customers))
        at = T0 + days(day + 1)
        operation = data.draw(st.sampled_from(OPERATIONS))
        if operation == "purchase":
            amount = data.draw(st.integers(1, 90000))
            recorded.append(events.purchase(cid, amount, at=at))
        elif operation == "touch":
            recorded.append(
                events.touch(cid, data.draw(st.sampled_from(["EMAIL", "WEB"])), "t", at=at)
            )
        elif operation in ("tag", "untag"):
            tag = data.draw(st.sampled_from(["a", "b"]))
            recorded.append(getattr(events, operation)(cid, tag, at=at))
        elif operation == "move":
            to = data.draw(st.sampled_from([s for s in STAGES if s != stage[cid]]))
            recorded.append(events.move(cid, stage[cid], to, at=at, reason="why"))
            stage[cid] = to
        elif operation == "complain":
            resolving = data.draw(st.booleans(), label="resolve")
            if open_complaints and resolving:
                owner, complaint = open_complaints.pop()
                recorded.append(events.resolve(owner, complaint, at=at))
            else:
                severity = data.draw(st.sampled_from(["LOW", "HIGH", "CRITICAL"]))
                complaint, filed = events.complain(cid, severity, "text", at=at)
                recorded.append(filed)
                open_complaints.append((cid, complaint))
        else:
            recorded.append(events.need(cid, "needs", at=at))
    if len(customers) > 1 and data.draw(st.booleans(), label="merge"):
        recorded += events.merge(customers[0], customers[1], at=T0 + days(20))
    if data.draw(st.booleans(), label="forget"):
        recorded.append(events.forget(customers[-1], at=T0 + days(21)))
    return recorded


def delivery(data: st.DataObject, recorded: list[Envelope]) -> list[list[Envelope]]:
    """Per-customer order kept, stretches re-sent, customers interleaved, random batches."""
    per_subject: dict[str, list[Envelope]] = {}
    for envelope in recorded:
        per_subject.setdefault(envelope["subject"], []).append(envelope)
    streams: list[list[Envelope]] = []
    for envelopes in per_subject.values():
        stream: list[Envelope] = []
        for i, envelope in enumerate(envelopes):
            stream.append(envelope)
            if data.draw(st.integers(0, 4)) == 0:  # a crash: re-send from an earlier offset
                rewind = data.draw(st.integers(0, i))
                stream += envelopes[rewind : i + 1]
        streams.append(stream)
    merged: list[Envelope] = []
    while any(streams):
        pick = data.draw(st.sampled_from([s for s in streams if s]))
        merged.append(pick.pop(0))
    batches: list[list[Envelope]] = []
    while merged:
        size = data.draw(st.integers(1, 6))
        batches.append(merged[:size])
        merged = merged[size:]
    return batches


def rebuilt(conn: Conn, batches: list[list[Envelope]]) -> dict[str, list[str]]:
    drop_all(conn)
    create_all(conn)
    for batch in batches:
        # One "now" for lifecycle and tier, so deliveries compare by their facts alone.
        apply_envelopes(conn, batch, now=T0 + days(100))
        conn.commit()
    return dump(conn)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_at_least_once_delivery_equals_one_clean_delivery(
    conn: Conn, data: st.DataObject
) -> None:
    recorded = history(data)
    clean = rebuilt(conn, [recorded])
    assert rebuilt(conn, delivery(data, recorded)) == clean
    assert rebuilt(conn, [[e] for e in recorded]) == clean
