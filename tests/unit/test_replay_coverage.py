"""A full rebuild replays every projection: one added to `PROJECTIONS` but not to
`projections/replay.py` would be missing from every rebuilt read model."""

from __future__ import annotations

import pytest

from projections.handlers import PROJECTION_NAMES
from projections.replay import REPLAYED, check_covers


def test_the_replay_covers_every_projection() -> None:
    assert sorted(REPLAYED) == sorted(PROJECTION_NAMES)
    check_covers()


def test_a_projection_the_replay_does_not_know_is_refused() -> None:
    with pytest.raises(RuntimeError, match="does not replay: loyalty"):
        check_covers([*PROJECTION_NAMES, "loyalty"])
