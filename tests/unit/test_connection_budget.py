"""`crm up`'s connection budget: docs/deployment.md's formula, from the processes it runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.config import Settings
from ops.connections import connection_budget, shortfall
from ops.stack import plan

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = {"database_url": "postgresql://db.example/crm", "kafka_bootstrap": "k.example:9092"}


def started(settings: Settings) -> list[str]:
    return [spec.name for spec in plan(settings).specs]


def test_the_defaults_need_what_the_deployment_guide_says(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, **EXTERNAL)
    needed = connection_budget(settings, started(settings))
    guide = (ROOT / "docs" / "deployment.md").read_text()
    said = re.search(r"1 lifecycle: .*? =\s+(\d+)\.", guide, re.S)
    assert said is not None and needed == int(said.group(1)) == 161


@pytest.mark.parametrize(
    ("changes", "more"),
    [
        ({"gateways": 3}, 34),  # one more gateway: its pools and the two probes
        ({"database_pool_gateway_overflow": 0}, -32),  # 16 fewer on each of two gateways
        ({"relays": 1}, -20),
        ({"workers": 3}, 7),  # one more projections (4) and analytics (3) worker
    ],
)
def test_every_setting_that_starts_or_sizes_a_process_counts(
    tmp_path: Path, changes: dict[str, int], more: int
) -> None:
    changed = Settings(data_dir=tmp_path, **EXTERNAL, **changes)
    assert connection_budget(changed, started(changed)) == 161 + more


def test_a_shortfall_names_both_numbers_and_what_to_lower() -> None:
    assert shortfall(161, 197) is None and shortfall(161, 161) is None
    said = shortfall(161, 97)
    assert said is not None and "161" in said and "97" in said
    assert "CRM_DATABASE_POOL_GATEWAY_OVERFLOW" in said
