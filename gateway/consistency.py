"""Read-your-writes: wait until the read models include a given position.

A mutation returns the global position of its last event; `customer(id, atLeast:)`
passes it back. The read models are filled asynchronously (Kafka, stream processors),
so the gateway polls `projections.queries.applied_position` for that customer with a
short, growing interval, bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from gateway.deps import GatewayDeps
from projections.queries import applied_position

FIRST_PAUSE = 0.01
MAX_PAUSE = 0.2


async def wait_for_position(
    deps: GatewayDeps, customer_id: UUID, position: int, timeout: float
) -> tuple[bool, int]:
    """(reached?, the position applied when we stopped looking)."""
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE
    while True:
        applied = await deps.reads.run(applied_position, customer_id)
        if applied >= position:
            return True, applied
        left = deadline - time.monotonic()
        if left <= 0:
            return False, applied
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, MAX_PAUSE)
