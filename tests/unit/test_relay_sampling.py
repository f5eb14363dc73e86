"""The relay validates one message in N against its schemas and counts failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.config import Settings
from ops.stack import plan
from streams.sampling import SampledValidator


def test_one_in_every_n_is_validated_and_a_broken_one_counted() -> None:
    validator = SampledValidator(every=2)
    due = [validator.due() for _ in range(6)]
    assert due == [False, True, False, True, False, True]
    validator.check({"type": "crm.customer.registered.v1", "data": {}})  # breaks the schema
    validator.check({"type": "crm.no.such.v1"})  # unknown type
    counts = validator.take_counts()
    assert (counts.validated, counts.invalid) == (2, 2)
    assert validator.take_counts().validated == 0  # counted once, then saved with the bookmark


def test_zero_validates_nothing_and_a_negative_sample_is_refused() -> None:
    assert not any(SampledValidator(every=0).due() for _ in range(500))
    with pytest.raises(ValueError, match="validate_every"):
        SampledValidator(every=-1)


def test_crm_up_runs_and_names_each_relay_replica(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql://db/crm", kafka_bootstrap="k:9092", relays=3
    )
    relays = [spec for spec in plan(settings).specs if spec.command[-1] == "relay"]
    assert [spec.name for spec in relays] == ["relay", "relay-2", "relay-3"]
    assert [spec.env["CRM_PROCESS_NAME"] for spec in relays] == ["relay", "relay-2", "relay-3"]
