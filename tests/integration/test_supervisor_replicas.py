"""`crm up --gateways 2 --workers 2` for real: two gateways on one port, two members per
topic worker sharing the partitions, a killed member losing nothing, and `/healthz`
listing every process from PostgreSQL's process table."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from chaos.faults import fresh_write_visible
from chaos.load import Ledger, Load
from chaos.platform import api_factory
from chaos.running import PlatformProcess, running_platform, scratch_data_dir
from chaos.verify import analytics_tally, crm, read_model_tally, settled

pytestmark = pytest.mark.integration

PARTITIONS = 4
SETTLE_S = 180
"""How long the two copies get, together, to catch up after the kill (inside the test's
300 s timeout). A kill -9 costs each group a rebalance (session 2 s) and the
supervisor's restart another; on this 2-core machine under the full suite a Tansu join
has been seen to stall for most of a minute, and `streams.join_watch` then starts a new
member after 25 s (doubling on a second miss). 60 s ran out twice in full CI runs
("lost 93", "lost 29" at the deadline; isolated runs settle in seconds). A real loss
still fails here, only later."""
REPLICATED = ("gateway", "worker-projections", "worker-analytics")


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformProcess]:
    # One relay (the default is two): --gateways and --workers must not replicate it.
    env = {
        "CRM_GATEWAYS": "2",
        "CRM_WORKERS": "2",
        "CRM_RELAYS": "1",
        "CRM_KAFKA_PARTITIONS": str(PARTITIONS),
    }
    with scratch_data_dir() as path, running_platform(path, env=env) as started:
        started.wait_healthy(timeout=120)
        yield started


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """SIGSTOP a process for the block: it accepts nothing while stopped."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def served_by(platform: PlatformProcess, tries: int = 5) -> set[int]:
    """The pids that answered `/livez` on the platform's one port, a new connection each."""
    pids = set()
    for _ in range(tries):
        response = httpx.get(f"{platform.base_url}/livez", timeout=10)
        assert response.status_code == 200
        pids.add(int(response.json()["pid"]))
    return pids


def test_every_replica_is_its_own_supervised_process(platform: PlatformProcess) -> None:
    components = platform.supervisor()["components"]
    for name in REPLICATED:
        assert components[name]["state"] == "running"
        assert components[f"{name}-2"]["state"] == "running"
        assert components[f"{name}-2"]["component"] == name
        assert components[name]["pid"] != components[f"{name}-2"]["pid"]
    assert "worker-lifecycle-2" not in components  # the scheduler is not a topic worker
    assert "relay-2" not in components


def test_two_gateways_answer_on_one_port(platform: PlatformProcess) -> None:
    first, second = platform.pid("gateway"), platform.pid("gateway-2")
    with paused(first):
        assert served_by(platform) == {second}
    with paused(second):
        assert served_by(platform) == {first}


def test_a_gateway_probes_itself(platform: PlatformProcess) -> None:
    ready = httpx.get(f"{platform.base_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["database"]["status"] == "ok"
    assert ready.json()["pid"] in {platform.pid("gateway"), platform.pid("gateway-2")}


def _partitions(detail: str) -> set[int] | None:
    """The partitions a worker's heartbeat detail names ("..., partitions 0,2")."""
    _, found, listed = detail.rpartition("partitions ")
    if not found or listed.strip() == "none":
        return None
    return {int(p) for p in listed.split(",")}


def test_worker_replicas_share_the_partitions(platform: PlatformProcess) -> None:
    deadline = time.monotonic() + 60
    held: dict[str, set[int] | None] = {}
    while time.monotonic() < deadline:
        components = platform.health()[1].get("components", {})
        held = {
            name: _partitions(str(components.get(name, {}).get("detail", "")))
            for name in ("worker-projections", "worker-projections-2")
        }
        if all(held.values()):
            break
        time.sleep(0.5)
    first, second = held["worker-projections"], held["worker-projections-2"]
    assert first and second, held
    assert not first & second
    assert first | second == set(range(PARTITIONS))


def test_healthz_lists_every_process_from_the_database(platform: PlatformProcess) -> None:
    supervised = platform.supervisor()["components"]
    expected = {
        name: entry["pid"]
        for name, entry in supervised.items()
        if name not in ("postgres", "kafka")
    }
    deadline = time.monotonic() + 30
    listed: dict[str, int] = {}
    while time.monotonic() < deadline:
        processes = platform.health()[1].get("processes") or []
        listed = {p["component"]: p["pid"] for p in processes if not p["stale"]}
        if all(listed.get(name) == pid for name, pid in expected.items()):
            break
        time.sleep(0.5)
    assert {name: listed.get(name) for name in expected} == expected
    worker = next(p for p in processes if p["component"] == "worker-projections")
    assert worker["host"]
    probe = httpx.get(f"{worker['probe']}/readyz", timeout=5)
    assert probe.status_code == 200
    assert probe.json()["pid"] == expected["worker-projections"]


def test_crm_status_lists_every_replica_and_the_process_table(platform: PlatformProcess) -> None:
    status = crm(platform.data_dir, "status")
    assert status.code == 0, status.tail
    assert "processes (from PostgreSQL" in status.stdout
    for name in ("gateway-2", "worker-projections-2", "worker-analytics-2"):
        assert name in status.stdout


def test_a_killed_worker_replica_loses_nothing(platform: PlatformProcess) -> None:
    """Load, kill -9 one member of each topic worker, more load: every accepted purchase
    is in the read models and analytics exactly once, and a write made after the kill
    is readable while the survivor holds every partition."""
    make_api = api_factory(platform)
    ledger = Ledger()
    load = Load(make_api, ledger, customers=8)
    load.start(2)
    probe = make_api()
    try:
        # Purchases under way before the kill (on a loaded machine registering the load's
        # customers alone can take longer than a fixed pause).
        deadline = time.monotonic() + 120
        while len(ledger.purchases) <= 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        killed = [platform.pid("worker-projections"), platform.pid("worker-analytics-2")]
        for pid in killed:
            psutil.Process(pid).kill()
        fresh_write_visible(probe, ledger, time.monotonic() + 60)
        time.sleep(2)
    finally:
        probe.close()
        load.stop()
    assert not load.errors
    assert len(ledger.purchases) > 10
    endpoints = platform.endpoints()
    deadline = time.monotonic() + SETTLE_S
    read_models = settled(lambda: read_model_tally(endpoints["database"], ledger), SETTLE_S)
    # on a failure, each process's log tail: which member held what, and where it stopped
    assert read_models.exact, (read_models.problems, platform.log_tails(60))
    catalog = Path(endpoints["analytics"]["duckdb"])
    left = max(1.0, deadline - time.monotonic())
    analytics = settled(lambda: analytics_tally(catalog, ledger), left)
    assert analytics.exact, (analytics.problems, platform.log_tails(60))
    assert platform.wait_replaced("worker-projections", killed[0]) not in killed
