"""The Grafana dashboard (deploy/grafana/) queries only metrics and labels that `/metrics`
really exposes: renaming a metric without the dashboard fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import render
from gateway.observe import REQUEST_SECONDS, request_metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "crm-dashboard.json"
_METRIC = re.compile(r"\b(crm_[a-z_]+)")
_LABELS = re.compile(r"(?:by|without) \(([^)]*)\)|\{([^}]*)\}")


def _exposed() -> dict[str, set[str]]:
    """Every sample name /metrics can expose, with its label names."""
    REQUEST_SECONDS.labels("Probe", "query", "ok").observe(0.01)
    lag = {"newest": 5, "relay": {"t": 4}, "projections": {"customers": 3}, "parked": 0}
    text = (render(lag) + request_metrics()).decode()
    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


def _expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_dashboard_query_uses_exposed_metrics_and_labels() -> None:
    exposed = _exposed()
    expressions = _expressions()
    assert len(expressions) >= 6
    for expr in expressions:
        names = _METRIC.findall(expr)
        assert names, expr
        for name in names:
            assert name in exposed, f"{expr}: {name} is not on /metrics"
        labels = exposed[names[0]] | {"le"}
        for grouped, matched in _LABELS.findall(expr):
            used = [g.strip() for g in grouped.split(",") if g.strip()]
            used += [m.split("=")[0].strip() for m in matched.split(",") if m.strip()]
            assert set(used) <= labels, f"{expr}: labels {set(used) - labels} not on {names[0]}"


def test_the_dashboard_covers_lag_throughput_and_errors() -> None:
    text = " ".join(_expressions())
    for needed in (
        "crm_relay_lag_events",
        "crm_projection_lag_events",
        "rate(crm_events_recorded",
        'outcome="error"',
        "crm_graphql_request_seconds_bucket",
    ):
        assert needed in text
