"""Every read-model projection, in the order a batch applies them.

Each has its own checkpoint per customer (rm_applied), so one projection can be reset
and rebuilt by a replay while the others skip what they already hold.
"""

from __future__ import annotations

from typing import Final

from projections.handlers import (
    complaints,
    custom_fields,
    customers,
    funnel,
    merges,
    organisation,
    purchases,
    tasks,
    timeline,
    touches,
    unknown_events,
)
from projections.handlers.base import Projection

PROJECTIONS: Final[tuple[Projection, ...]] = (
    customers.PROJECTION,
    merges.PROJECTION,
    purchases.PROJECTION,
    touches.PROJECTION,
    complaints.PROJECTION,
    funnel.PROJECTION,
    timeline.PROJECTION,
    tasks.PROJECTION,
    custom_fields.PROJECTION,
    organisation.PROJECTION,
    unknown_events.PROJECTION,
)
PROJECTION_NAMES: Final = tuple(p.name for p in PROJECTIONS)

__all__ = ["PROJECTIONS", "PROJECTION_NAMES", "Projection"]
