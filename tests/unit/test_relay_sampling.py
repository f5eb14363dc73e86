"""The relay validates one message in N against its schemas and counts failures."""

from __future__ import annotations

import pytest

from ops.stack import relay_names
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


def test_crm_up_names_each_relay_replica() -> None:
    assert relay_names(1) == ["relay"]
    assert relay_names(3) == ["relay", "relay-2", "relay-3"]
