"""The fixed words of the domain: channels, directions, severities, statuses, stages.

They live in one place so validation, aggregates and read models agree on spelling.
Thresholds and the stage order a deployment may tune live in `aggregates.policy`.
"""

from __future__ import annotations

from typing import Final

CHANNELS: Final = ("PHONE", "EMAIL", "MEETING", "VISIT", "WECHAT", "SOCIAL", "WEB", "OTHER")
DIRECTIONS: Final = ("INBOUND", "OUTBOUND")

SEVERITIES: Final = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
CRITICAL: Final = "CRITICAL"

OPEN: Final = "OPEN"
ESCALATED: Final = "ESCALATED"
RESOLVED: Final = "RESOLVED"
COMPLAINT_STATUSES: Final = (OPEN, ESCALATED, RESOLVED)

LEAD: Final = "LEAD"
WON: Final = "WON"
LOST: Final = "LOST"
PIPELINE_STAGES: Final = (
    "LEAD",
    "CONTACTED",
    "QUALIFIED",
    "PROPOSAL",
    "QUOTE",
    "NEGOTIATION",
    "WON",
)
OPPORTUNITY_STAGES: Final = ("QUALIFIED", "PROPOSAL", "QUOTE", "NEGOTIATION")
