"""Tracing, per-operation latency and request-id logs, over HTTP on the real database:
a caller's W3C trace continues through the GraphQL operation into the events it commits,
`/metrics` has a histogram per operation, and log lines are JSON with the request id."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace
from uuid import UUID

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from ops import telemetry
from tests.integration.support.gateway import GatewayHarness
from tests.support.tracing import recorded_spans

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
REGISTER = (
    "mutation TraceRegister($input: RegisterCustomerInput!) "
    "{ registerCustomer(input: $input) { customer { id } } }"
)
TRAIL = "query($id: ID!) { auditTrail(customerId: $id) { edges { node { type correlationId } } } }"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    return recorded_spans()


async def test_a_callers_trace_reaches_the_events_and_the_exported_span(
    gw: GatewayHarness, spans: InMemorySpanExporter
) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    response = await gw.post(REGISTER, {"input": {"name": "Traced"}}, headers=headers)
    assert response.status_code == 200, response.text
    customer_id = response.json()["data"]["registerCustomer"]["customer"]["id"]

    trail = await gw.data(TRAIL, {"id": customer_id}, role="compliance")
    correlations = {e["node"]["correlationId"] for e in trail["auditTrail"]["edges"]}
    assert correlations == {str(UUID(TRACE_ID))}

    operation = [s for s in spans.get_finished_spans() if s.name.endswith("TraceRegister")]
    assert len(operation) == 1
    span = operation[0]
    assert span.name == "graphql mutation TraceRegister"
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == CALLER_SPAN
    same_trace = {
        s.name: s for s in spans.get_finished_spans() if s.context.trace_id == span.context.trace_id
    }
    command = same_trace["command RegisterCustomer"]
    assert command.parent is not None and command.parent.span_id == span.context.span_id
    commit = same_trace["commit"]
    assert commit.parent is not None and commit.parent.span_id == command.context.span_id


async def test_without_a_caller_each_request_gets_its_own_trace(
    gw: GatewayHarness, spans: InMemorySpanExporter
) -> None:
    ids = []
    for name in ("One", "Two"):
        data = await gw.data(REGISTER, {"input": {"name": name}})
        ids.append(data["registerCustomer"]["customer"]["id"])
    correlations = []
    for customer_id in ids:
        trail = await gw.data(TRAIL, {"id": customer_id}, role="compliance")
        correlations.append(trail["auditTrail"]["edges"][0]["node"]["correlationId"])
    assert correlations[0] != correlations[1]
    traced = {f"{s.context.trace_id:032x}" for s in spans.get_finished_spans()}
    assert {UUID(c).hex for c in correlations} <= traced


async def test_metrics_have_a_latency_histogram_per_operation(
    gw: GatewayHarness, tmp_path: object
) -> None:
    await gw.data(REGISTER, {"input": {"name": "Measured"}})
    refused = await gw.gql(REGISTER, {"input": {"name": ""}})
    assert refused.get("errors")
    settings = SimpleNamespace(
        data_dir=tmp_path,
        database_url=gw.database_url,
        kafka_bootstrap=None,
        kafka_topic="t",
        jwt_secret="x",
        master_key=None,
        production=False,
        cors_origins=[],
        identity_provider=None,
    )
    transport = httpx.ASGITransport(app=create_app(settings))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        text = (await client.get("/metrics")).text
    ok = _sample(text, "TraceRegister", "ok")
    error = _sample(text, "TraceRegister", "error")
    assert ok >= 1 and error >= 1
    assert 'crm_graphql_request_seconds_bucket{le="0.005",operation="TraceRegister"' in text


def _sample(text: str, operation: str, outcome: str) -> float:
    prefix = (
        f'crm_graphql_request_seconds_count{{operation="{operation}",'
        f'outcome="{outcome}",type="mutation"}} '
    )
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert lines, f"no {prefix!r} in /metrics"
    return float(lines[0].removeprefix(prefix))


async def test_log_lines_are_json_with_the_request_id(gw: GatewayHarness) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        telemetry.configure_logging("gateway", "json")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        response = await gw.post(
            REGISTER, {"input": {"name": ""}}, headers={"X-Request-ID": "support-ticket-42"}
        )
        assert response.headers["x-request-id"] == "support-ticket-42"
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [line for line in lines if "graphql errors" in line["message"]]
    assert failed, lines
    assert failed[0]["request_id"] == "support-ticket-42"
    assert failed[0]["component"] == "gateway"
    assert failed[0]["level"] == "WARNING" and failed[0]["logger"] == "crm.gateway"
