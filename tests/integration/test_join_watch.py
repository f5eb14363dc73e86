"""A worker whose consumer group does not take it in in time (`streams.join_watch`), on a
real broker, as a real process: given 0.2 s (a join on Tansu takes about 1 s), it logs
every thread's stack, starts a new app in the same process, waits twice as long each
time, and so gets its partitions without a process restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.application import CrmApplication
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import start_worker, stop
from tests.integration.support.waiting import wait_for_log

pytestmark = pytest.mark.integration

ASSIGNED = "Setting newly assigned partitions"


def test_a_join_that_comes_too_late_is_tried_again_in_the_same_process(
    app: CrmApplication, database_url: str, own_broker: str, master_key: str, tmp_path: Path
) -> None:
    topic = "crm.joins"
    ensure_topic(own_broker, topic, 4)
    log = tmp_path / "worker.log"
    servers = ServerSet(database_url, own_broker)
    worker = start_worker(
        servers, database_url, topic, master_key, tmp_path, log=log, worker_join_timeout="0.2"
    )
    try:
        overdue = wait_for_log(log, r"gave no partitions in 0\.2s", 60).start()
        text = log.read_text(errors="replace")
        assert "most recent call first" in text[overdue:]  # the threads' stacks
        assert ASSIGNED not in text[:overdue]  # it had no partitions when told
        wait_for_log(log, r"gave no partitions in 0\.4s", 30, after=overdue)  # twice as long
        wait_for_log(log, ASSIGNED, 60, after=overdue)
        assert worker.poll() is None  # the same process: joined again in place
    finally:
        stop(worker)
