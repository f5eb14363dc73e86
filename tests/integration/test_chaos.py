"""The fault suite's short form (`crm chaos --quick`), in CI: a real `crm up` under
GraphQL load, `kill -9` of the relay, each worker, the broker and PostgreSQL, then every
accepted write exactly once in the store, read models and analytics, `crm check` and
`crm audit verify` passing, and `/healthz` never 200 while reads fail.

Poison and forged messages (`--inject`) need the parking lot (`crm_parked`, `crm parked
list`); until that is merged this runs with `inject=False`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos import TARGETS, ChaosConfig
from chaos.run import run_chaos

pytestmark = pytest.mark.integration

INJECT = True


def test_nothing_is_lost_or_doubled_while_every_part_is_killed(tmp_path: Path) -> None:
    doc = run_chaos(ChaosConfig.make(quick=True, inject=INJECT), tmp_path, print)
    results = doc["results"]
    assert results["kills"] == len(TARGETS)
    assert results["lost"] == 0 and results["duplicated"] == 0
    assert results["load"]["writes_accepted"] > 0
    assert results["health_samples"]["lies"] == 0
    assert results["crm_check"]["exit"] == 0 and results["audit_verify"]["exit"] == 0
    assert list(tmp_path.glob("*-chaos.json"))
