"""The intake between the topic and a sink, in process: a message the sink itself refuses
is parked while the rest of its batch is applied; a sink that refuses everything is a
broken sink, raised (the worker restarts) rather than a batch parked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.messages import RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from streams.envelope import encode
from streams.intake import Intake
from streams.parking import RawMessage
from streams.signing import signed_headers
from streams.sink import ReadModelSink
from tests.integration.support.parking import envelope_at, parked_rows
from tests.integration.support.streaming import CTX

pytestmark = pytest.mark.integration


def relayed(app: CrmApplication, envelope: Mapping[str, Any], offset: int) -> RawMessage:
    """The message the relay would send for `envelope` (signed), at `offset`."""
    key, value = str(envelope["subject"]).encode(), encode(envelope)
    headers = tuple(signed_headers(app.stream_signing_key, key, value))
    return RawMessage("crm.events", 0, offset, key, value, headers)


def test_a_message_the_sink_refuses_is_parked_and_the_rest_applied(
    app: CrmApplication, database_url: str
) -> None:
    service = CommandService(app)
    service.handle(RegisterCustomer(name="X"), CTX)  # position 1
    other = service.handle(RegisterCustomer(name="Y"), CTX).customer_id  # 2
    service.handle(RecordContactTouch(customer_id=other, channel="PHONE", summary="s"), CTX)  # 3
    broken = envelope_at(app, 2)
    broken["data"] = {**broken["data"], "name": "sealed:a"}  # schema-valid, not base64
    batch = [
        relayed(app, envelope_at(app, 1), 0),
        relayed(app, broken, 1),
        relayed(app, envelope_at(app, 3), 2),
    ]
    sink = ReadModelSink(app, database_url)
    intake = Intake("crm-projections", app.stream_signing_key, sink, database_url)
    try:
        outcome = intake(batch)
        assert (outcome.applied, outcome.parked) == (2, 1)
        assert intake(batch).parked == 1 and intake.parked == 1  # redelivered: parked once
    finally:
        intake.close()
        sink.close()
    rows = parked_rows(database_url)
    assert [r[:3] for r in rows] == [("crm-projections", 0, 1)]
    assert rows[0][3].startswith("cannot apply: Error: ")  # binascii.Error, named
    with psycopg.connect(database_url) as conn:
        positions = conn.execute("SELECT position FROM rm_timeline ORDER BY 1").fetchall()
    assert positions == [(1,), (3,)]


def test_a_sink_that_refuses_every_message_is_raised_not_parked(
    app: CrmApplication, database_url: str
) -> None:
    for name in ("A", "B"):
        CommandService(app).handle(RegisterCustomer(name=name), CTX)

    def broken_sink(envelopes: Sequence[Mapping[str, Any]]) -> None:
        raise RuntimeError("the sink is broken, not the messages")

    intake = Intake("crm-projections", app.stream_signing_key, broken_sink, database_url)
    try:
        with pytest.raises(RuntimeError):
            intake([relayed(app, envelope_at(app, p), p) for p in (1, 2)])
    finally:
        intake.close()
    assert parked_rows(database_url) == []


def test_a_batch_of_nothing_but_poison_is_parked_not_raised(
    app: CrmApplication, database_url: str
) -> None:
    """Two events whose values PostgreSQL refuses (a version out of range, a NUL in a
    text) fail alone and together: parked, or the batch would come back after every
    restart and the worker would crash-loop on it."""
    service = CommandService(app)
    service.handle(RegisterCustomer(name="A"), CTX)
    service.handle(RegisterCustomer(name="B"), CTX)
    huge, nul = envelope_at(app, 1), envelope_at(app, 2)
    huge["version"] = 2**40
    nul["data"] = {**nul["data"], "region": "East\u0000"}
    sink = ReadModelSink(app, database_url)
    intake = Intake("crm-projections", app.stream_signing_key, sink, database_url)
    try:
        outcome = intake([relayed(app, huge, 0), relayed(app, nul, 1)])
    finally:
        intake.close()
        sink.close()
    assert (outcome.applied, outcome.parked) == (0, 2)
    reasons = [row[3] for row in parked_rows(database_url)]
    assert len(reasons) == 2 and all(r.startswith("cannot apply: ") for r in reasons), reasons
