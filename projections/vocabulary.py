"""The read models' own vocabulary: a stage's rank on the funnel path.

Lifecycle stages and tiers are facts too since time-driven changes are recorded as
events (`LifecycleStageChanged`, `TierChanged`), so they live in `events.vocabulary`
with the other words of the facts; the names are re-exported here for the read side.
"""

from __future__ import annotations

from typing import Final

from events.vocabulary import LIFECYCLE_STAGES, PIPELINE_PATH, TIERS, LifecycleStage, Tier

__all__ = ["LIFECYCLE_STAGES", "STAGE_RANK", "TIERS", "LifecycleStage", "Tier"]

STAGE_RANK: Final = {stage: rank for rank, stage in enumerate(PIPELINE_PATH)}
"""A stage's place on the funnel path (LOST has none)."""
