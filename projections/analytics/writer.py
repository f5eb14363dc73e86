"""A batch of envelopes -> one Parquet part per dataset (the analytics worker's sink).

Delivery is at least once, so everything here is idempotent by position: keyed rows
are deduplicated by the catalog views, and the dimension folds skip what they folded.
The dimension rows a batch touches are loaded from the files first (not cached), so
any number of workers can share the partitions and hand them over at rebalances.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import duckdb

from events import ORGANISATION_ID
from projections.analytics.dimension import (
    COMPLAINT_KINDS,
    fold_complaint,
    fold_customer,
    new_complaint,
    new_customer,
)
from projections.analytics.flatten import event_row, merge_row, purchase_rows
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.parquet import (
    compact_all,
    dataset_files,
    dataset_lock,
    ensure_datasets,
    write_part,
)
from projections.analytics.schema import Dataset, dataset
from projections.business_time import DEFAULT_TIMEZONE
from projections.incoming import IncomingEvent, parse_envelope

Row = dict[str, Any]


@dataclass
class BatchResult:
    events: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    highest_position: int = 0


def _load_rows(layout: AnalyticsLayout, ds: Dataset, ids: Iterable[UUID]) -> dict[UUID, Row]:
    """The current (newest) rows of `ids` in a snapshot dataset."""
    wanted = sorted({str(i) for i in ids})
    if not wanted:
        return {}
    key = ds.key[0]
    query = (
        "SELECT * FROM read_parquet($files, union_by_name = true) "
        f"WHERE CAST({key} AS VARCHAR) IN (SELECT unnest($ids)) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY last_position DESC) = 1"
    )
    with dataset_lock(layout, ds, shared=True), duckdb.connect() as con:
        files = [str(p) for p in dataset_files(layout, ds)]
        cursor = con.execute(query, {"files": files, "ids": wanted})
        names = [d[0] for d in cursor.description or ()]
        found = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return {UUID(str(row[key])): row for row in found}


def highest_position(layout: AnalyticsLayout) -> int:
    """The newest event position in the files (0 when empty)."""
    events = dataset("events")
    with dataset_lock(layout, events, shared=True), duckdb.connect() as con:
        files = [str(p) for p in dataset_files(layout, events)]
        row = con.execute(
            "SELECT coalesce(max(position), 0) FROM read_parquet($files)", {"files": files}
        ).fetchone()
    return int(row[0]) if row else 0


class AnalyticsSink:
    """Writes envelope batches to the analytics datasets; compacts now and then."""

    def __init__(
        self,
        layout: AnalyticsLayout,
        *,
        compact_every: float = 60.0,
        min_parts: int = 20,
        zone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.layout = layout
        ensure_datasets(layout)
        from projections.analytics.catalog import write_catalog

        write_catalog(layout, zone=zone)
        self.compact_every = compact_every
        self.min_parts = min_parts
        self._last_compaction = time.monotonic()
        self._lock = threading.Lock()
        self.highest_position = highest_position(layout)

    def __call__(self, envelopes: Sequence[Mapping[str, Any]]) -> BatchResult:
        batch = sorted(((parse_envelope(e), e) for e in envelopes), key=lambda p: p[0].position)
        with self._lock:
            result = self._write(batch)
            self.highest_position = max(self.highest_position, result.highest_position)
            if time.monotonic() - self._last_compaction >= self.compact_every:
                self.compact(self.min_parts)
        return result

    def compact(self, min_parts: int = 1) -> dict[str, int]:
        self._last_compaction = time.monotonic()
        return compact_all(self.layout, min_parts)

    def _write(self, batch: Sequence[tuple[IncomingEvent, Mapping[str, Any]]]) -> BatchResult:
        result = BatchResult(events=len(batch))
        if not batch:
            return result
        result.highest_position = batch[-1][0].position
        # The organisation's events are no customer's facts: not in the analysts' datasets.
        batch = [(e, envelope) for e, envelope in batch if e.subject_id != ORGANISATION_ID]
        rows: dict[str, list[Row]] = {"events": [], "purchases": [], "merges": []}
        for event, envelope in batch:
            rows["events"].append(event_row(event, envelope))
            rows["purchases"].extend(purchase_rows(event))
            merge = merge_row(event)
            if merge is not None:
                rows["merges"].append(merge)
        rows["customers"] = self._fold_customers([e for e, _ in batch])
        rows["complaints"] = self._fold_complaints([e for e, _ in batch])
        for name, found in rows.items():
            write_part(self.layout, dataset(name), found)
            result.rows[name] = len(found)
        return result

    def _fold_customers(self, events: Sequence[IncomingEvent]) -> list[Row]:
        own = [e for e in events if e.on_own_stream]
        return self._fold("customers", own, lambda e: e.subject_id, new_customer, fold_customer)

    def _fold_complaints(self, events: Sequence[IncomingEvent]) -> list[Row]:
        mine = [e for e in events if e.known and e.kind in COMPLAINT_KINDS]
        return self._fold("complaints", mine, lambda e: e.stream_id, new_complaint, fold_complaint)

    def _fold(
        self,
        name: str,
        events: Sequence[IncomingEvent],
        key: Callable[[IncomingEvent], UUID],
        new: Callable[[IncomingEvent], Row],
        fold: Callable[[Row, IncomingEvent], bool],
    ) -> list[Row]:
        """The snapshot rows of `name` the events change, folded from their newest rows."""
        current = _load_rows(self.layout, dataset(name), (key(e) for e in events))
        changed: dict[UUID, Row] = {}
        for event in events:
            row = current.get(key(event))
            if row is None:
                row = current[key(event)] = new(event)
            if fold(row, event):
                changed[key(event)] = row
        return list(changed.values())
