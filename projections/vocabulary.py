"""The words only the read models speak: lifecycle stage and tier, derived at read time.

No event carries them (`projections.derived` computes them from the facts), so they are
defined here, once; the gateway serves these enums as the GraphQL `LifecycleStage` and
`Tier`. The words of the facts themselves (stages, channels, severities, complaint
statuses) live in `events.vocabulary`.
"""

from __future__ import annotations

import enum
from typing import Final

from events.vocabulary import PIPELINE_PATH, words


class LifecycleStage(enum.Enum):
    PROSPECT = "PROSPECT"
    OPPORTUNITY = "OPPORTUNITY"
    NEW_CUSTOMER = "NEW_CUSTOMER"
    REPEAT_CUSTOMER = "REPEAT_CUSTOMER"
    LOYAL = "LOYAL"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


class Tier(enum.Enum):
    VIP = "VIP"
    GOLD = "GOLD"
    SILVER = "SILVER"
    BRONZE = "BRONZE"


LIFECYCLE_STAGES: Final = words(LifecycleStage)
TIERS: Final = words(Tier)

STAGE_RANK: Final = {stage: rank for rank, stage in enumerate(PIPELINE_PATH)}
"""A stage's place on the funnel path (LOST has none)."""
