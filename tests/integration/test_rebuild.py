"""A rebuild from the event store equals the read models built incrementally from the
stream (delivered in per-customer order, with redeliveries), and serves old rows until
it commits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    AddNote,
    CommandContext,
    CompleteTask,
    FileComplaint,
    ForgetCustomer,
    MergeCustomers,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
    ResolveComplaint,
    ScheduleTask,
    TagCustomer,
)
from commands.service import CommandService
from streams.rebuild import rebuild
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.support.streaming import read_model_snapshot

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="rebuild-test")


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=generate_master_key(), pool_size=2)
    yield application
    application.close()


def make_history(service: CommandService) -> list[UUID]:
    ids = []
    for i in range(6):
        customer_id = service.handle(
            RegisterCustomer(name=f"Customer {i}", email=f"x{i}@example.com", source="web"), CTX
        ).customer_id
        ids.append(customer_id)
        service.handle(TagCustomer(customer_id=customer_id, add=("vip", f"t{i}")), CTX)
        service.handle(
            RecordContactTouch(customer_id=customer_id, channel="EMAIL", summary="hi"), CTX
        )
        service.handle(MoveStage(customer_id=customer_id, to="PROPOSAL"), CTX)
        service.handle(
            RecordPurchase(
                customer_id=customer_id,
                order_id=f"O-{i}",
                lines=(PurchaseLineInput(sku="S", quantity=i + 1, unit_price=Decimal("1000")),),
                currency="USD" if i % 2 else "CNY",
            ),
            CTX,
        )
    complaint = service.handle(
        FileComplaint(customer_id=ids[0], category="delivery", severity="HIGH", description="late"),
        CTX,
    )
    service.handle(
        ResolveComplaint(complaint_id=complaint.aggregate_id, resolution="refund", satisfaction=4),
        CTX,
    )
    due = datetime.now(UTC) + timedelta(days=3)
    for i in (0, 3):  # customer 3 is forgotten below: its task's title must be scrubbed
        task = service.handle(
            ScheduleTask(
                customer_id=ids[i], kind="CALL_BACK", title=f"call {i}", assignee="amy", due_at=due
            ),
            CTX,
        )
        service.handle(AddNote(customer_id=ids[i], text=f"note {i}"), CTX)
    service.handle(CompleteTask(task_id=task.aggregate_id, outcome="done"), CTX)
    service.handle(MergeCustomers(survivor_id=ids[1], duplicate_id=ids[2]), CTX)
    service.handle(ForgetCustomer(customer_id=ids[3], reason="request"), CTX)
    return ids


def deliver_like_kafka(envelopes: list[dict[str, Any]], seed: int) -> list[list[dict[str, Any]]]:
    """Per-customer order kept, customers interleaved, some batches delivered twice."""
    rng = random.Random(seed)
    queues: dict[str, list[dict[str, Any]]] = {}
    for envelope in envelopes:
        queues.setdefault(envelope["subject"], []).append(envelope)
    stream: list[dict[str, Any]] = []
    while queues:
        subject = rng.choice(sorted(queues))
        stream.append(queues[subject].pop(0))
        if not queues[subject]:
            del queues[subject]
    batches = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    redelivered = []
    for batch in batches:
        redelivered.append(batch)
        if rng.random() < 0.4:
            redelivered.append(batch)  # a crash before the commit: the batch comes again
    return redelivered


def test_rebuild_equals_incremental_build(app: CrmApplication, database_url: str) -> None:
    make_history(CommandService(app))
    envelopes = EventSource(app).read_after(0, 10_000).envelopes
    sink = ReadModelSink(app, database_url)
    try:
        for batch in deliver_like_kafka(envelopes, seed=7):
            sink(batch)
    finally:
        sink.close()
    incremental = read_model_snapshot(database_url)
    assert incremental["rm_customers"], "the incremental build produced read models"

    seen: list[tuple[int, int]] = []
    replayed = rebuild(app, database_url, batch_size=5, progress=lambda n, t: seen.append((n, t)))
    assert replayed == len(envelopes)
    assert seen[-1] == (len(envelopes), len(envelopes))
    assert read_model_snapshot(database_url) == incremental


def test_rebuild_of_one_projection_leaves_the_others_alone(
    app: CrmApplication, database_url: str
) -> None:
    make_history(CommandService(app))
    sink = ReadModelSink(app, database_url)
    try:
        sink(EventSource(app).read_after(0, 10_000).envelopes)
    finally:
        sink.close()
    before = read_model_snapshot(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rm_funnel")
        conn.execute("UPDATE rm_touches SET customer_id = customer_id")  # untouched by rebuild
    rebuild(app, database_url, ["funnel"])
    assert read_model_snapshot(database_url) == before


def test_unknown_projection_name_is_refused(app: CrmApplication, database_url: str) -> None:
    with pytest.raises(ValueError, match="unknown projection"):
        rebuild(app, database_url, ["nope"])


def test_parallel_set_based_rebuild_equals_incremental_build(database_url: str) -> None:
    """Two worker processes, each replaying its partition set-based in windows of 3
    events (folded rows carried across windows, a merge's two sides possibly in
    different partitions, a forgotten customer), equal the live path's build."""
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=2)
    try:
        make_history(CommandService(app))
        envelopes = EventSource(app).read_after(0, 10_000).envelopes
        sink = ReadModelSink(app, database_url)
        try:
            for batch in deliver_like_kafka(envelopes, seed=11):
                sink(batch)
        finally:
            sink.close()
        incremental = read_model_snapshot(database_url)
        assert incremental["rm_merges"] and incremental["rm_timeline"]
        assert len(incremental["rm_tasks"]) == 2

        assert rebuild(app, database_url, batch_size=3, workers=2, master_key=key) == len(envelopes)
        assert read_model_snapshot(database_url) == incremental
    finally:
        app.close()
