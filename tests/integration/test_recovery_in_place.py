"""`crm up` as it starts by default recovers from a `kill -9` without waiting for a new
process (issue 11, item 6): after a broker kill every topic worker moves to the new log
generation's consumer group inside its running process, and a killed gateway's requests
are answered by its twin, which was running before the kill. Each test ends with a
write made after the kill being readable. No timing is asserted: `crm bench recovery`
measures the seconds."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psutil
import pytest

from chaos.faults import fresh_write_visible, kill_and_recover
from chaos.load import Ledger
from chaos.platform import api_factory
from chaos.running import PlatformProcess, running_platform, scratch_data_dir
from streams.generation import broker_generation, group_id
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration

TOPIC_WORKERS = ("projections", "analytics")


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformProcess]:
    with scratch_data_dir() as path, running_platform(path) as started:  # the defaults
        started.wait_healthy(timeout=120)
        yield started


def topic_worker_processes(platform: PlatformProcess) -> dict[str, tuple[int, int]]:
    """Every member of every topic worker: name -> (pid, restarts)."""
    components = platform.supervisor()["components"]
    return {
        name: (int(entry["pid"]), int(entry["restarts"]))
        for name, entry in components.items()
        if entry["component"] in {f"worker-{worker}" for worker in TOPIC_WORKERS}
    }


def consumer_groups(bootstrap: str) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()}
    finally:
        admin.close()


def test_by_default_each_topic_worker_and_the_gateway_run_twice(platform: PlatformProcess) -> None:
    components = platform.supervisor()["components"]
    for name in ("gateway", "relay", "worker-projections", "worker-analytics"):
        members = [n for n, entry in components.items() if entry["component"] == name]
        assert len(members) == 2, components


def test_a_broker_kill_moves_every_worker_to_the_new_group_in_its_process(
    platform: PlatformProcess,
) -> None:
    database = platform.endpoints()["database"]
    topic = platform.endpoints()["kafka"]["topic"]
    generation = broker_generation(database, topic)
    api = api_factory(platform)()
    try:
        # Something on the topic for the broker to lose (an empty log lost nothing).
        fresh_write_visible(api, Ledger(), deadline=_deadline(60))
        before = topic_worker_processes(platform)
        # Kills Tansu (memory-only: the log is gone), waits for /healthz 200 and for a
        # write made after the kill to be readable through the read models.
        kill_and_recover(platform, "kafka", api, Ledger())
    finally:
        api.close()
    moved_to = broker_generation(database, topic)
    assert moved_to > generation  # the relay found the loss: a new generation began
    # Every member still runs as the process it was, never restarted ...
    assert topic_worker_processes(platform) == before
    for pid, _ in before.values():
        assert psutil.Process(pid).is_running()
    # ... and reads the new log in the new generation's groups (the write above may have
    # been read before the move: the re-published log keeps the old offsets).
    bootstrap = platform.endpoints()["kafka"]["bootstrap"]
    wanted = {group_id(worker, moved_to) for worker in TOPIC_WORKERS}
    wait_for(lambda: wanted <= consumer_groups(bootstrap), timeout=60, interval=0.5)
    assert topic_worker_processes(platform) == before


def test_a_killed_gateway_is_answered_by_its_twin_that_ran_before(
    platform: PlatformProcess,
) -> None:
    components = platform.supervisor()["components"]
    gateways = {n: int(e["pid"]) for n, e in components.items() if e["component"] == "gateway"}
    assert len(gateways) == 2
    victim = psutil.Process(gateways["gateway"])
    victim.kill()
    victim.wait(timeout=10)
    # The next request on the one port: the twin, running since before the kill, answers
    # (the supervisor's replacement is a new pid, still importing).
    answer = httpx.get(f"{platform.base_url}/livez", timeout=30)
    assert answer.status_code == 200
    assert int(answer.json()["pid"]) == gateways["gateway-2"]
    api = api_factory(platform)()
    try:
        fresh_write_visible(api, Ledger(), deadline=_deadline(60))
    finally:
        api.close()
    platform.wait_replaced("gateway", gateways["gateway"], timeout=60)


def _deadline(seconds: float) -> float:
    import time

    return time.monotonic() + seconds
