"""The fixed words the read models speak, in the order the GraphQL enums list them.

The read side keeps its own copy instead of importing `aggregates/`: projections may
only import `events/`, and these spellings are part of the published contract anyway.
"""

from __future__ import annotations

from typing import Final

PIPELINE_PATH: Final = ("LEAD", "CONTACTED", "QUALIFIED", "PROPOSAL", "QUOTE", "NEGOTIATION", "WON")
"""The ordered path of the funnel; LOST is off the path and never advances it."""

PIPELINE_STAGES: Final = (*PIPELINE_PATH, "LOST")
STAGE_RANK: Final = {stage: rank for rank, stage in enumerate(PIPELINE_PATH)}

LIFECYCLE_STAGES: Final = (
    "PROSPECT",
    "OPPORTUNITY",
    "NEW_CUSTOMER",
    "REPEAT_CUSTOMER",
    "LOYAL",
    "AT_RISK",
    "CHURNED",
)
TIERS: Final = ("VIP", "GOLD", "SILVER", "BRONZE")
CHANNELS: Final = ("PHONE", "EMAIL", "MEETING", "VISIT", "WECHAT", "SOCIAL", "WEB", "OTHER")
SEVERITIES: Final = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
COMPLAINT_STATUSES: Final = ("OPEN", "ESCALATED", "RESOLVED")
