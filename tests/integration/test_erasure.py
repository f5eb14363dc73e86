"""Erasure end to end on the real servers: a customer's personal data spread over the
event store, the Kafka topic, every read model and the analytics files; `crm audit
forget`; then a search of every PostgreSQL table, every analytics file and every
message of the topic for the customer's name and email finds nothing, while the audit
trail still lists every event with its type, time, position and actor."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from kafka import KafkaConsumer, TopicPartition

from aggregates.errors import RuleViolated
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    AddNote,
    AnswerSatisfactionSurvey,
    ChangeContactDetails,
    CommandContext,
    EscalateComplaint,
    FileComplaint,
    ForgetCustomer,
    MergeCustomers,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordNeed,
    RecordPurchase,
    RegisterCustomer,
    ResolveComplaint,
    ScheduleTask,
    TagCustomer,
)
from commands.service import CommandService
from compliance.audit import AuditStep, changes_until, replay
from compliance.changes import FieldChange
from compliance.erasure import SearchScope, erase
from compliance.residue import search_database, search_files, search_topic
from projections.analytics.catalog import connect
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.writer import AnalyticsSink
from streams.envelope import decode
from streams.relay import Relay
from streams.sink import ReadModelSink
from streams.source import WIRE_PREFIX, EnvelopeOpener, EventSource

pytestmark = pytest.mark.integration

NAME, EMAIL = "Zelda Quorra", "zelda.quorra@example.com"
NEEDLES = {"name": NAME, "email": EMAIL}
T0 = datetime(2025, 2, 1, 10, 0, tzinfo=UTC)
CTX = CommandContext(actor="sales-sam")


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(
        database_url, master_key=master_key, snapshot_interval=3, pool_size=4
    )
    yield application
    application.close()


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def _changes_text(steps: list[AuditStep], folded: dict[int, tuple[FieldChange, ...]]) -> str:
    """Every before and after value of the replay's steps and of the audit pages' fold."""
    changes = [c.as_dict() for s in steps for c in s.changes]
    changes += [c.as_dict() for cs in folded.values() for c in cs]
    return json.dumps(changes, ensure_ascii=False)


def personal_history(service: CommandService) -> UUID:
    """Zelda's personal data in every kind of event that can hold some."""
    cid = service.handle(
        RegisterCustomer(name=NAME, email=EMAIL, phone="13912345678", occurred_at=at(0)), CTX
    ).customer_id
    steps: list[Any] = [
        ChangeContactDetails(customer_id=cid, address="42 Hidden Lane", occurred_at=at(1)),
        RecordContactTouch(
            customer_id=cid, channel="PHONE", summary=f"called {NAME}", occurred_at=at(2)
        ),
        RecordNeed(customer_id=cid, description=f"{NAME} wants a quote", occurred_at=at(3)),
        AddNote(customer_id=cid, text=f"{NAME} prefers {EMAIL} after 6pm", occurred_at=at(3)),
        ScheduleTask(
            customer_id=cid,
            kind="CALL_BACK",
            title=f"call {NAME} back",
            assignee="sales-sam",
            due_at=at(9),
            occurred_at=at(3),
        ),
        MoveStage(customer_id=cid, to="QUALIFIED", occurred_at=at(4)),
        TagCustomer(customer_id=cid, add=("vip",), occurred_at=at(4)),
        RecordPurchase(
            customer_id=cid,
            lines=(PurchaseLineInput(sku="A-1", quantity=1, unit_price=Decimal("120.00")),),
            occurred_at=at(5),
        ),
        AnswerSatisfactionSurvey(
            customer_id=cid, survey_id="s1", score=4, comment=f"mail me at {EMAIL}"
        ),
    ]
    for command in steps:
        service.handle(command, CTX)
    complaint = service.handle(
        FileComplaint(
            customer_id=cid,
            category="billing",
            severity="HIGH",
            description=f"{NAME} was charged twice",
            occurred_at=at(6),
        ),
        CTX,
    ).aggregate_id
    service.handle(
        EscalateComplaint(complaint_id=complaint, reason=f"{NAME} is angry", occurred_at=at(7)),
        CTX,
    )
    service.handle(
        ResolveComplaint(complaint_id=complaint, resolution=f"refunded {EMAIL}", occurred_at=at(8)),
        CTX,
    )
    return cid


def read_topic(bootstrap: str, topic: str, after: dict[int, int]) -> list[dict[str, Any]]:
    """Messages after the given offsets, up to the current end of every partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, after.get(tp.partition, 0))
        ends = consumer.end_offsets(partitions)
        envelopes = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                envelopes += [decode(m.value) for m in messages]
                after[tp.partition] = consumer.position(tp)
        return envelopes
    finally:
        consumer.close()


def write_analyst_copy(root: Path, envelopes: list[dict[str, Any]]) -> None:
    """What an analyst might keep beside the platform's own datasets (which hold no
    personal data): opened events in a Parquet file and a DuckDB table with names."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        (
            e["subject"],
            e["position"],
            e["type"],
            e["data"].get("name"),
            e["data"].get("email"),
            e["data"].get("summary") or e["data"].get("description"),
        )
        for e in envelopes
    ]
    with duckdb.connect(str(root / "analytics.duckdb")) as duck:
        duck.execute(
            "CREATE TABLE facts (customer_id UUID, position BIGINT, type VARCHAR, "
            "name VARCHAR, email VARCHAR, summary VARCHAR)"
        )
        duck.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?)", rows)
        duck.execute(
            "CREATE TABLE customers AS SELECT customer_id, any_value(name) AS name, "
            "any_value(email) AS email FROM facts WHERE name IS NOT NULL GROUP BY customer_id"
        )
        (root / "facts").mkdir(exist_ok=True)
        duck.execute(f"COPY facts TO '{root / 'facts' / 'part-0.parquet'}' (FORMAT parquet)")


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(".venv/bin/crm").resolve()
    return subprocess.run(
        [str(exe) if exe.exists() else "crm", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_forgetting_reaches_every_copy(
    app: CrmApplication,
    database_url: str,
    master_key: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    service = CommandService(app)
    zelda = personal_history(service)
    bystander = service.handle(
        RegisterCustomer(name="Bo Bystander", email="bo@example.com"), CTX
    ).customer_id

    # The platform at work: relay to the topic, the projections worker's sink, analytics.
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2)
    sink = ReadModelSink(app, database_url)
    offsets: dict[int, int] = {}
    try:
        relay.publish_available()
        delivered = read_topic(kafka_bootstrap, kafka_topic, offsets)
        assert len(delivered) == 14
        names = [e["data"]["name"] for e in delivered if e["data"].get("name")]
        assert names and all(n.startswith(WIRE_PREFIX) for n in names)  # sealed on the wire
        opened = EnvelopeOpener(app).open_all(delivered)
        sink(delivered)
        analytics = tmp_path / "analytics"
        analytics_sink = AnalyticsSink(AnalyticsLayout(analytics))  # the worker's, as is
        analytics_sink(delivered)
        assert search_files(analytics, NEEDLES) == []  # personal data never copied there
        write_analyst_copy(analytics / "exports", opened)
        # Before: the data is there (the searches do find what they look for).
        assert {f.where for f in search_database(database_url, NEEDLES)} >= {
            "postgres:public.rm_customers.name",
            "postgres:public.rm_customers.email",
            "postgres:public.rm_timeline.summary",
            "postgres:public.rm_touches.summary",
            "postgres:public.rm_complaints.description",
            "postgres:public.rm_tasks.title",
        }
        assert len(search_files(analytics, NEEDLES)) >= 4
        # The topic never carried it in clear: personal fields travel sealed.
        assert search_topic(kafka_bootstrap, kafka_topic, NEEDLES) == []
        trail_before = replay(app, zelda)
        # Before/after history holds the values while the key exists (what must go).
        history_before = _changes_text(trail_before, changes_until(app, zelda, 10**9, redact=False))
        assert NAME in history_before and "42 Hidden Lane" in history_before

        env = {
            "CRM_DATABASE_URL": database_url,
            "CRM_MASTER_KEY": master_key,
            "CRM_DATA_DIR": str(tmp_path),
            "CRM_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CRM_KAFKA_TOPIC": kafka_topic,
        }
        analyst = connect(AnalyticsLayout(analytics))  # the catalog is open meanwhile
        result = crm(
            "audit", "forget", str(zelda), "--reason", "GDPR art. 17 request #81",
            "--actor", "dpo-dana", "--scan-topic", env=env,
        )  # fmt: skip
        analyst.close()
        assert result.returncode == 0, result.stdout + result.stderr
        assert "key destroyed" in result.stdout and "nothing found" in result.stdout
        assert (
            "analytics: parquet:exports/facts/part-0.parquet, duckdb:exports/analytics.duckdb"
            in result.stdout
        )

        # The platform carries on: the forget goes out on the topic, the worker skips
        # what the erasure already applied.
        assert relay.publish_available() == 1
        forget_event = read_topic(kafka_bootstrap, kafka_topic, offsets)
        sink(forget_event)
        analytics_sink(forget_event)
    finally:
        relay.close()
        sink.close()

    assert search_database(database_url, NEEDLES) == []
    assert search_files(tmp_path, NEEDLES) == []
    with connect(AnalyticsLayout(tmp_path / "analytics")) as analyst:
        assert analyst.execute(
            "SELECT forgotten FROM customer_dim WHERE customer_id = ?", [zelda]
        ).fetchall() == [(True,)]
        assert analyst.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [zelda]
        ).fetchall() == [(0,)]
    assert search_topic(kafka_bootstrap, kafka_topic, NEEDLES) == []

    # The sealed copies on the topic are unreadable now, by anyone with the master key.
    fresh = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        everything = read_topic(kafka_bootstrap, kafka_topic, {})
        sealed = [e for e in everything if e["subject"] == str(zelda)]
        assert any(WIRE_PREFIX in str(v) for e in sealed for v in e["data"].values())
        reopened = EnvelopeOpener(fresh).open_all(sealed)
        for envelope in reopened:
            for name in (
                "name",
                "email",
                "phone",
                "summary",
                "description",
                "resolution",
                "text",
                "title",
            ):
                assert envelope["data"].get(name) is None
        # The audit trail keeps every fact: type, time, position, actor.
        trail = replay(fresh, zelda)
        # Its before/after history names the fields that changed, with no value left.
        history = _changes_text(trail, changes_until(fresh, zelda, 10**9, redact=False))
        for needle in (NAME, EMAIL, "13912345678", "42 Hidden Lane"):
            assert needle not in history
        assert any(c.field == "address" for s in trail for c in s.changes)
    finally:
        fresh.close()
    assert [(s.position, s.type, s.occurred_at, s.actor) for s in trail[:-1]] == [
        (s.position, s.type, s.occurred_at, s.actor) for s in trail_before
    ]
    forgotten = trail[-1]
    assert (forgotten.type, forgotten.actor, forgotten.command) == (
        "crm.customer.forgotten.v1",
        "dpo-dana",
        "ForgetCustomer",
    )
    assert forgotten.data == {"reason": "GDPR art. 17 request #81"}

    # Later commands are refused; the bystander is untouched.
    with pytest.raises(RuleViolated):
        service.handle(RecordContactTouch(customer_id=zelda, channel="PHONE"), CTX)
    with pytest.raises(RuleViolated):
        service.handle(ForgetCustomer(customer_id=zelda, reason="again"), CTX)
    assert search_database(database_url, {"name": "Bo Bystander"})
    assert replay(app, bystander)[0].data["name"] == "Bo Bystander"


def test_erase_again_finishes_an_interrupted_erasure(
    app: CrmApplication, database_url: str, tmp_path: Path
) -> None:
    """The forget committed but the scrub never ran (crash): erasing again completes it."""
    service = CommandService(app)
    zelda = personal_history(service)
    sink = ReadModelSink(app, database_url)
    try:
        sink(EventSource(app).read_after(0, 100).envelopes)
    finally:
        sink.close()
    service.handle(ForgetCustomer(customer_id=zelda, reason="r"), CommandContext("dpo"))
    assert search_database(database_url, NEEDLES)  # the read models were not reached yet
    receipt = erase(
        app,
        database_url,
        zelda,
        reason="r",
        actor="dpo",
        analytics_root=tmp_path,
        scope=SearchScope(database=True, files=tmp_path),
    )
    assert receipt.already_forgotten and receipt.read_model_events_applied == 1
    assert receipt.needles == []  # the values are gone with the key
    assert search_database(database_url, NEEDLES) == []


def test_erasing_a_survivor_scrubs_the_customers_merged_into_it(
    app: CrmApplication, database_url: str, master_key: str, tmp_path: Path
) -> None:
    """The duplicate's own name and phone were left readable (its key kept, its row
    unscrubbed) when only the survivor was erased; a bad reason was a traceback."""
    service = CommandService(app)
    survivor = service.handle(RegisterCustomer(name="Zhang Bo"), CTX).customer_id
    duplicate = service.handle(
        RegisterCustomer(name="Zhang Bo Dup", phone="15736277803"), CTX
    ).customer_id
    service.handle(MergeCustomers(survivor_id=survivor, duplicate_id=duplicate), CTX)
    sink = ReadModelSink(app, database_url)
    try:
        sink(EventSource(app).read_after(0, 100).envelopes)
    finally:
        sink.close()
    duplicate_values = {"name": "Zhang Bo Dup", "phone": "15736277803"}
    assert search_database(database_url, duplicate_values), "the duplicate's row holds them"
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": master_key}
    env["CRM_DATA_DIR"] = str(tmp_path)

    blank = crm("audit", "forget", str(survivor), "--reason", " ", env=env)
    assert blank.returncode == 2 and "Traceback" not in blank.stderr
    assert blank.stderr.strip().startswith("error: reason:"), blank.stderr

    done = crm("audit", "forget", str(survivor), "--reason", "DSR-43", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing found" in done.stdout
    assert search_database(database_url, duplicate_values) == []
    assert app.repository.get(duplicate).forgotten
