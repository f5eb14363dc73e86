"""Replicated components without servers: names, environment, health grouping, probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.health import grouped, overall_status, table_components
from ops.presence import ProbeServer
from ops.supervisor import ChildSpec, replicas


def test_replicas_are_named_logged_and_told_their_names_apart() -> None:
    spec = ChildSpec(
        "worker-projections",
        ["crm", "worker", "projections"],
        env={"CRM_PORT": "1"},
        log_path=Path("/d/logs/worker-projections.log"),
    )
    copies = replicas(spec, 3)
    assert [c.name for c in copies] == [
        "worker-projections",
        "worker-projections-2",
        "worker-projections-3",
    ]
    assert {c.group for c in copies} == {"worker-projections"}
    assert [c.env and c.env["CRM_PROCESS_NAME"] for c in copies] == [c.name for c in copies]
    assert all(c.env and c.env["CRM_PORT"] == "1" for c in copies)
    assert [c.log_path and c.log_path.name for c in copies] == [
        "worker-projections.log",
        "worker-projections-2.log",
        "worker-projections-3.log",
    ]
    assert replicas(spec, 1)[0].name == "worker-projections"


def test_a_component_is_up_while_one_of_its_replicas_is() -> None:
    components = {
        "gateway": {"status": "down"},
        "gateway-2": {"status": "ok", "component": "gateway"},
        "relay": {"status": "ok"},
        "database": {"status": "ok"},
    }
    down, replicas_down = grouped(components)
    assert down == []
    assert replicas_down == ["gateway"]
    assert overall_status(not down, 0, len(replicas_down)) == "degraded"


def test_a_component_with_every_replica_down_is_down() -> None:
    components = {
        "worker-projections": {"status": "down"},
        "worker-projections-2": {"status": "starting", "component": "worker-projections"},
        "relay": {"status": "ok"},
    }
    down, replicas_down = grouped(components)
    assert down == ["worker-projections"]
    assert replicas_down == []
    assert overall_status(not down, 0, 0) == "unavailable"


def test_probes_answer_live_and_ready_from_the_last_report() -> None:
    probes = ProbeServer("worker-projections").start()
    try:
        assert httpx.get(f"{probes.url}/livez").status_code == 200
        assert httpx.get(f"{probes.url}/readyz").status_code == 503  # still starting
        probes.update("ok", "joined")
        ready = httpx.get(f"{probes.url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["component"] == "worker-projections"
        probes.update("error", "database gone")
        assert httpx.get(f"{probes.url}/livez").status_code == 503
        assert httpx.get(f"{probes.url}/nope").status_code == 404
    finally:
        probes.close()


def process_row(
    component: str, host: str, pid: int, status: str = "ok", detail: str = "", **more: Any
) -> dict[str, Any]:
    """A row of the process table as `list_processes` gives it (`stale` False unless said)."""
    return {
        "component": component,
        "host": host,
        "pid": pid,
        "status": status,
        "detail": detail,
        "stale": False,
        **more,
    }


def test_without_a_supervisor_the_process_table_gives_the_components() -> None:
    rows = [
        process_row("gateway", "a", 1),
        process_row("gateway", "b", 7, "stale", stale=True),
        process_row("relay", "b", 8, "error", "x"),
    ]
    components = table_components(rows)
    assert set(components) == {"gateway@a:1", "relay@b:8"}
    assert grouped(components) == (["relay"], [])


def test_a_component_whose_every_process_went_stale_is_down() -> None:
    """Separate processes (no `crm up`): the only relay killed leaves a stale row alone;
    /healthz must say the relay is down, not drop it and answer 200 "ok"."""
    rows = [
        process_row("gateway", "a", 1),
        process_row("relay", "b", 8, detail="leading", stale=True, age_s=31.0),
        process_row("worker-projections", "b", 9, stale=True, age_s=40.0),
        process_row("worker-projections", "c", 3),
    ]
    components = table_components(rows)
    assert set(components) == {"gateway@a:1", "relay@b:8", "worker-projections@c:3"}
    down, replicas_down = grouped(components)
    assert down == ["relay"]
    assert replicas_down == []
    assert overall_status(not down, 0, len(replicas_down)) == "unavailable"
