"""`GET /metrics`: Prometheus text exposition of the stream lag, read from the database.

- `crm_events_recorded`: the newest global position in the event store;
- `crm_relay_lag_events{topic}`: recorded events the relay has not yet published;
- `crm_projection_lag_events{projection}`: recorded events beyond the furthest position
  a read-model projection applied (partitions advance independently, so this is the
  distance from the furthest; 0 when caught up), as the workers' heartbeats last marked
  it (`projections.marks`: up to a second old);
- `crm_relay_validated_messages{topic}` / `crm_relay_invalid_messages{topic}`: how many
  of the relay's messages were checked against their JSON Schemas (a sample, one in
  `validate_every`) and how many of those broke them (sent anyway; the workers park them);
- `crm_parked_messages`: messages the workers parked instead of applying (`crm parked
  list`); anything above 0 needs an operator;
- `crm_graphql_request_seconds{operation,type,outcome}`: a histogram of the GraphQL
  operations this gateway served (`gateway.observe`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.observe import request_metrics
from projections.marks import projection_positions
from projections.schema import PROJECTION_TABLES
from streams.parking import parked_count

METRICS_PATH = "/metrics"

NEWEST_SQL = "SELECT coalesce(max(notification_id), 0) FROM stored_events"
RELAY_SQL = "SELECT topic, position FROM crm_relay_progress"
VALIDATION_SQL = "SELECT topic, validated, invalid FROM crm_relay_progress"


def read_lag(database_url: str) -> dict[str, Any]:
    """Each part is empty where its table is not made yet (no relay or worker ran)."""
    found: dict[str, Any] = {"newest": 0, "relay": {}, "projections": {}, "validation": {}}
    Missing = psycopg.errors.UndefinedTable
    with psycopg.connect(database_url, connect_timeout=3, autocommit=True) as conn:
        found["parked"] = parked_count(conn)
        with contextlib.suppress(Missing):
            row = conn.execute(NEWEST_SQL).fetchone()
            found["newest"] = int(row[0]) if row else 0
        with contextlib.suppress(Missing):
            found["relay"] = {t: int(p) for t, p in conn.execute(RELAY_SQL).fetchall()}
        # A bookmark table from before sampling has no counts: no validation gauges.
        with contextlib.suppress(Missing, psycopg.errors.UndefinedColumn):
            rows = conn.execute(VALIDATION_SQL).fetchall()
            found["validation"] = {t: (v, i) for t, v, i in rows}
        # The marks the workers' heartbeats raise, not a scan of the checkpoints (11 rows
        # a customer: ~1 s a scrape at a million customers).
        with contextlib.suppress(Missing):
            found["projections"] = projection_positions(conn, list(PROJECTION_TABLES))
    return found


def render(lag: dict[str, Any]) -> bytes:
    registry = CollectorRegistry()
    newest = lag["newest"]
    Gauge("crm_events_recorded", "Newest global position", registry=registry).set(newest)
    relay = Gauge("crm_relay_lag_events", "Unpublished events", ["topic"], registry=registry)
    for topic, position in lag["relay"].items():
        relay.labels(topic).set(max(0, newest - int(position)))
    projection = Gauge(
        "crm_projection_lag_events", "Events not yet applied", ["projection"], registry=registry
    )
    for name, position in lag["projections"].items():
        projection.labels(name).set(max(0, newest - int(position)))
    validated = Gauge(
        "crm_relay_validated_messages", "Messages checked (a sample)", ["topic"], registry=registry
    )
    invalid = Gauge(
        "crm_relay_invalid_messages", "Sampled messages that broke their schema", ["topic"],
        registry=registry,
    )  # fmt: skip
    for topic, (checked, broken) in lag.get("validation", {}).items():
        validated.labels(topic).set(checked)
        invalid.labels(topic).set(broken)
    Gauge("crm_parked_messages", "Messages parked instead of applied", registry=registry).set(
        lag.get("parked", 0)
    )
    return generate_latest(registry)


def metrics_route(database_url: str | None) -> Route:
    async def metrics(request: Request) -> Response:
        if not database_url:
            return Response("no database configured\n", status_code=503)
        try:
            lag = await asyncio.to_thread(read_lag, database_url)
        except psycopg.Error as error:
            return Response(f"database unreachable: {error}\n", status_code=503)
        return Response(render(lag) + request_metrics(), media_type=CONTENT_TYPE_LATEST)

    return Route(METRICS_PATH, metrics, methods=["GET"], name="metrics")
