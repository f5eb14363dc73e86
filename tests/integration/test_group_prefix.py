"""Two installations on one Kafka cluster (`CRM_KAFKA_GROUP_PREFIX`): a worker of the
one told `staging` joins `staging-projections`, not the `crm-projections` group of the
installation beside it, whose member it would otherwise be (every start of either one
rebalancing the other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.application import CrmApplication
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import start_worker, stop
from tests.integration.support.waiting import wait_for_log

pytestmark = pytest.mark.integration


def joined_group(log: Path) -> str:
    """The group the worker logging to `log` got its partitions from."""
    return wait_for_log(log, r"Setting newly assigned partitions .* for group ([^\s\"]+)", 60)[1]


def test_each_installation_joins_groups_of_its_own_prefix(
    app: CrmApplication, database_url: str, own_broker: str, master_key: str, tmp_path: Path
) -> None:
    servers = ServerSet(database_url, own_broker)
    ensure_topic(own_broker, "crm.events", 4)
    ensure_topic(own_broker, "staging.events", 4)
    ours = start_worker(
        servers, database_url, "crm.events", master_key, tmp_path / "a", log=tmp_path / "crm.log"
    )
    theirs = start_worker(
        servers,
        database_url,
        "staging.events",
        master_key,
        tmp_path / "b",
        log=tmp_path / "staging.log",
        kafka_group_prefix="staging",
    )
    try:
        assert joined_group(tmp_path / "staging.log") == "staging-projections"
        assert joined_group(tmp_path / "crm.log") == "crm-projections"
        for log, other in (("staging.log", "crm-"), ("crm.log", "staging-")):
            assert f"group {other}projections" not in (tmp_path / log).read_text()
    finally:
        stop(ours)
        stop(theirs)
