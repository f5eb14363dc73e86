"""The baseline: the `eventsourcing` library used the plain way, one save per command.

A tiny aggregate with the same event shapes as ours (registration with the same
fields, touches, tags, needs, stage moves, purchases) in a default `Application` on
PostgreSQL: no encryption, no side tables, no idempotency, no aggregate cache. Each
command loads the aggregate (`repository.get`), calls one method and saves, which is
what a first event-sourced service looks like. Our single-command path is compared
with this loop, on the same server, in a database of its own.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.conninfo import conninfo_to_dict

from bench.stats import Run
from bench.workload import Op


class PlainCustomer(Aggregate):
    """Same event shapes as `aggregates.customer.Customer`, none of its rules."""

    @event("Registered")
    def __init__(
        self,
        name: str,
        email: str | None,
        phone: str | None,
        company: str | None,
        industry: str | None,
        region: str | None,
        source: str | None,
        owner: str | None,
    ) -> None:
        self.name = name
        self.email = email
        self.stage = "LEAD"
        self.tags: list[str] = []
        self.purchase_total = Decimal("0")

    @event("ContactTouchRecorded")
    def record_touch(
        self, channel: str, direction: str, summary: str | None, outcome: str | None
    ) -> None:
        self.last_channel = channel

    @event("Tagged")
    def tag(self, tags: list[str]) -> None:
        self.tags.extend(tags)

    @event("NeedRecorded")
    def record_need(self, need_id: str, description: str) -> None:
        self.last_need = need_id

    @event("StageMoved")
    def move_stage(self, from_stage: str, to_stage: str, reason: str | None) -> None:
        self.stage = to_stage

    @event("PurchaseRecorded")
    def record_purchase(
        self, order_id: str, lines: list[dict[str, Any]], currency: str, total: str
    ) -> None:
        self.purchase_total += Decimal(total)


class PlainApplication(Application[UUID]):
    """A default application: the library's own PostgreSQL recorder and settings."""

    name = "PlainApplication"


def plain_application(database_url: str) -> PlainApplication:
    params = conninfo_to_dict(database_url)
    return PlainApplication(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or "5432"),
            "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "CREATE_TABLE": "y",
        }
    )


def apply_op(app: PlainApplication, op: Op, ids: dict[int, UUID]) -> None:
    """One command the plain way: load, call, save."""
    v = op.values
    if op.kind == "register":
        customer = PlainCustomer(**v)
        ids[op.customer] = customer.id
        app.save(customer)
        return
    customer = app.repository.get(ids[op.customer])
    assert isinstance(customer, PlainCustomer)
    if op.kind == "touch":
        customer.record_touch(**v)
    elif op.kind == "tag":
        customer.tag(v["tags"])
    elif op.kind == "need":
        customer.record_need(**v)
    elif op.kind == "move":
        customer.move_stage(from_stage=customer.stage, to_stage=v["to"], reason=None)
    else:
        total = (v["unit_price"] * v["quantity"]).quantize(Decimal("0.01"))
        line = {"sku": v["sku"], "quantity": v["quantity"], "unit_price": str(v["unit_price"])}
        customer.record_purchase(v["order_id"], [line], "CNY", str(total))
    app.save(customer)


def run_baseline(database_url: str, ops: list[Op]) -> Run:
    """Play `ops` in order through the plain application; one latency per command."""
    app = plain_application(database_url)
    ids: dict[int, UUID] = {}
    latencies: list[float] = []
    try:
        began = time.perf_counter()
        for op in ops:
            start = time.perf_counter()
            apply_op(app, op, ids)
            latencies.append(time.perf_counter() - start)
        seconds = time.perf_counter() - began
    finally:
        app.close()
    return Run(len(ops), seconds, tuple(latencies))
