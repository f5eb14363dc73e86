"""Rebuild the analytics datasets from the event store (the system of record).

For a new column, a corrupted file, or a data dir restored without its analytics: the
datasets are emptied and every event goes through the same sink the worker uses, in
position order, then compacted. Stop the analytics worker first (`crm up` restarts it
afterwards and it carries on from its consumer offsets, deduplicated by position).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from commands.application import CrmApplication
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.schema import datasets
from projections.analytics.writer import AnalyticsSink
from projections.business_time import DEFAULT_TIMEZONE
from streams.source import EventSource

Progress = Callable[[int, int], None]


def rebuild_analytics(
    app: CrmApplication,
    layout: AnalyticsLayout,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    zone: str = DEFAULT_TIMEZONE,
) -> int:
    """Replay every event into fresh analytics datasets; returns how many events. The
    catalog's business months are `zone`'s (`CRM_TIMEZONE`)."""
    for ds in datasets():
        shutil.rmtree(layout.dataset(ds.name), ignore_errors=True)
    sink = AnalyticsSink(layout, compact_every=float("inf"), zone=zone)
    source = EventSource(app)
    total = source.max_position()
    position = replayed = 0
    while True:
        batch = source.read_after(position, batch_size)
        if not batch.envelopes:
            break
        sink(batch.envelopes)
        position = batch.last_position
        replayed += len(batch.envelopes)
        if progress:
            progress(replayed, max(total, position))
    sink.compact()
    return replayed
