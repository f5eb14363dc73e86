"""Erasure reaches free text, on the real servers (issue 11, item 9).

An email typed into a touch outcome is sealed and erased with the key; typed into a
tag, a complaint category or an order id it is refused (those stay readable, so they
have closed forms). After `forget` the email is found nowhere: event store bytes, read
models, analytics files, topic messages. The residue scan reports clean only when it
is: it finds a copy planted by hand, and it finds history recorded in clear before
the outcome was sealed, on the first forget and on a second one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from aggregates.errors import ValidationFailed
from commands.application import CrmApplication
from commands.mapper import SEALED
from commands.messages import (
    CommandContext,
    FileComplaint,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService
from compliance.audit import replay
from compliance.erasure import SearchScope, erase
from compliance.residue import search_database, search_files, search_topic
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.writer import AnalyticsSink
from streams.relay import Relay
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.test_erasure import read_topic

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="sales-sam")
T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def other_email(who: str) -> str:
    """Not the customer's own address (that one is a needle anyway): a third one."""
    return f"{who}.private@example.net"


def history(service: CommandService, who: str) -> UUID:
    """A customer whose free text holds an email, and refused attempts to put it elsewhere."""
    typed = other_email(who)
    cid = service.handle(
        RegisterCustomer(
            name=f"{who.title()} Quill",
            email=f"{who}@example.com",
            owner="sam@sales.example",  # staff's address, shared by customers: no needle
            occurred_at=T0,
        ),
        CTX,
    ).customer_id
    refused = [
        (TagCustomer(customer_id=cid, add=("vip", typed)), "add[1]"),
        (
            FileComplaint(customer_id=cid, category=typed, severity="LOW", description="d"),
            "category",
        ),
        (
            RecordPurchase(
                customer_id=cid,
                order_id=typed,
                lines=(PurchaseLineInput(sku="A-1", quantity=1, unit_price=Decimal("9.50")),),
            ),
            "orderId",
        ),
    ]
    for command, field in refused:
        with pytest.raises(ValidationFailed) as error:
            service.handle(command, CTX)
        assert error.value.field == field
    steps: list[Any] = [
        RecordContactTouch(
            customer_id=cid,
            channel="PHONE",
            outcome=f"asked us to write to {typed}",
            occurred_at=T0 + timedelta(days=1),
        ),
        TagCustomer(customer_id=cid, add=("vip", "高价值")),
        FileComplaint(customer_id=cid, category="billing", severity="LOW", description="late"),
        RecordPurchase(
            customer_id=cid,
            order_id="SO-2025-0001",
            lines=(PurchaseLineInput(sku="A-1", quantity=1, unit_price=Decimal("9.50")),),
        ),
    ]
    for command in steps:
        service.handle(command, CTX)
    return cid


def plant_note(database_url: str, customer_id: UUID, text: str) -> None:
    """A copy no scrub knows about: an analyst's side table."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS analyst_notes (customer_id uuid, note text)")
        conn.execute("INSERT INTO analyst_notes VALUES (%s, %s)", (customer_id, text))


def test_an_email_in_free_text_is_found_nowhere_after_forget(
    app: CrmApplication,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    service = CommandService(app)
    zelda, yara = history(service, "zelda"), history(service, "yara")
    plant_note(database_url, yara, f"Yara prefers {other_email('yara')}")
    needles = {"typed": other_email("zelda")}
    analytics = tmp_path / "analytics"
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2)
    sink = ReadModelSink(app, database_url)
    analytics_sink = AnalyticsSink(AnalyticsLayout(analytics))
    offsets: dict[int, int] = {}
    try:
        relay.publish_available()
        delivered = read_topic(kafka_bootstrap, kafka_topic, offsets)
        sink(delivered)
        analytics_sink(delivered)
        # Before: the outcome is in the read models (the search finds what it looks
        # for), sealed in the store and on the topic, and never in the analytics files.
        assert {f.where for f in search_database(database_url, needles)} == {
            "postgres:public.rm_touches.outcome",
            "postgres:public.rm_timeline.summary",
        }
        assert search_topic(kafka_bootstrap, kafka_topic, needles) == []
        assert search_files(analytics, needles) == []

        scope = SearchScope(database=True, files=analytics, topic=(kafka_bootstrap, kafka_topic))
        receipt = erase(
            app, database_url, zelda, reason="request #1", actor="dpo", analytics_root=analytics,
            scope=scope,
        )  # fmt: skip
        assert "outcome:email" in receipt.needles
        assert receipt.clean, receipt.findings

        # A copy the scrub cannot reach is reported, by label and place.
        planted = erase(
            app, database_url, yara, reason="request #2", actor="dpo", analytics_root=analytics,
            scope=scope,
        )  # fmt: skip
        assert [(f.where, f.label) for f in planted.findings] == [
            ("postgres:public.analyst_notes.note", "outcome:email")
        ]

        relay.publish_available()
        forgets = read_topic(kafka_bootstrap, kafka_topic, offsets)
        sink(forgets)
        analytics_sink(forgets)
    finally:
        relay.close()
        sink.close()

    # Nowhere: store rows (bytea searched byte-wise), read models, files, topic.
    assert search_database(database_url, needles) == []
    assert search_files(tmp_path, needles) == []
    assert search_topic(kafka_bootstrap, kafka_topic, needles) == []
    assert all(step.data.get("outcome") is None for step in replay(app, zelda))
    # A second forget on a clean erasure stays clean (nothing readable is left).
    again = erase(
        app, database_url, zelda, reason="r", actor="dpo", analytics_root=analytics, scope=scope
    )
    assert again.already_forgotten and again.clean and again.needles == []


def rewrite_as_v2(app: CrmApplication, database_url: str, customer_id: UUID) -> None:
    """Turn the customer's touch into what v2 code recorded: the outcome in clear."""
    mapper = app.crm_mapper
    with psycopg.connect(database_url, autocommit=True) as conn:
        position, state = conn.execute(
            "SELECT notification_id, state FROM stored_events WHERE originator_id = %s"
            " AND topic = 'events.customer:ContactTouchRecorded'",
            (customer_id,),
        ).fetchone()  # type: ignore[misc]
        raw = mapper.transcoder.decode(bytes(state))
        raw.pop(SEALED)
        raw.update(
            class_version=2,
            outcome=f"asked us to write to {other_email('xena')}",
            summary=None,
        )
        conn.execute(
            "UPDATE stored_events SET state = %s WHERE notification_id = %s",
            (mapper.transcoder.encode(raw), position),
        )


def test_history_recorded_in_clear_is_reported_on_every_forget(
    app: CrmApplication, database_url: str, tmp_path: Path
) -> None:
    service = CommandService(app)
    xena = history(service, "xena")
    rewrite_as_v2(app, database_url, xena)
    typed = other_email("xena")

    # Still projected, but sealed on the way: the wire never carries it in clear.
    envelopes = EventSource(app).read_after(0, 100).envelopes
    assert typed not in json.dumps(envelopes, default=str)
    sink = ReadModelSink(app, database_url)
    try:
        sink(envelopes)
    finally:
        sink.close()
    assert {f.where for f in search_database(database_url, {"typed": typed})} == {
        "postgres:public.rm_touches.outcome",
        "postgres:public.rm_timeline.summary",
        "postgres:public.stored_events.state",
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A timeline row projected before the outcome was sealed named only the summary.
        conn.execute(
            "UPDATE rm_timeline SET personal_fields = '{summary}' WHERE type LIKE %s",
            ("crm.customer.contact_touch_recorded.%",),
        )

    scope = SearchScope(database=True, files=tmp_path)
    first = erase(
        app, database_url, xena, reason="r", actor="dpo", analytics_root=tmp_path, scope=scope
    )
    second = erase(
        app, database_url, xena, reason="r", actor="dpo", analytics_root=tmp_path, scope=scope
    )
    # The second forget has no key, yet still reads the clear history and reports it.
    for receipt, needle in ((first, "outcome:email"), (second, "stored outcome:email")):
        assert not receipt.clean
        assert {f.where.split(" ")[0] for f in receipt.findings} == {
            "postgres:public.stored_events.state"
        }
        assert {f.label for f in receipt.findings} == {"outcome (stored in clear)", needle}
    assert second.already_forgotten and second.needles == ["stored outcome:email"]
    # Readers no longer show it: it reads as None once the key is gone.
    assert all(step.data.get("outcome") is None for step in replay(app, xena))
    assert not any(f.where.startswith("postgres:public.rm_") for f in first.findings)
