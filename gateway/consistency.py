"""Read-your-writes: wait until the read models include a given position.

A mutation returns the global position of its last event; `customer(id, atLeast:)`
passes it back, and mutation payloads wait the same way. The position may be another
customer's: `projections.positions.includes_position` settles it for this customer's
profile (its merge tree's checkpoints, and the event store for events at or below it).
The read models are filled asynchronously (Kafka, stream processors), so the gateway
asks again with a short, growing interval, bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from gateway.deps import GatewayDeps
from projections.positions import includes_position

FIRST_PAUSE = 0.01
MAX_PAUSE = 0.2


async def wait_for_position(
    deps: GatewayDeps, customer_id: UUID, position: int, timeout: float
) -> tuple[bool, int]:
    """(included?, a position the read models have fully applied when we stopped looking)."""
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE
    while True:
        found = await deps.reads.run(includes_position, customer_id, position)
        if found.included:
            return True, found.applied
        left = deadline - time.monotonic()
        if left <= 0:
            return False, found.applied
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, MAX_PAUSE)
