"""A stored event read straight from the store's table, with its global position.

The audit reads (replay, as-of, the GraphQL trail, damage reports) select rows of the
event store's table themselves, because they need the position beside each event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import StoredEvent


def positioned(row: Mapping[str, Any]) -> tuple[int, StoredEvent]:
    """(position, stored event) of one `stored_events` row read with a dict row factory."""
    return (
        int(row["notification_id"]),
        StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        ),
    )
