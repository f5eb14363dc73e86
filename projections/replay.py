"""Replay one customer-hash partition into empty tables, set-based: a full rebuild's apply.

`projections.apply.apply_batch` serves a live stream: any batch may be a redelivery, so
it locks and reads checkpoints, loads the rows it folds and upserts them, batch after
batch. A full rebuild's worker knows more: its tables (the shadow) start empty, it
reads every event of its customers exactly once, in position order, and nobody else
writes those customers' rows. So `PartitionReplay`

- keeps the folded rows (profiles, complaints, tasks, funnel, merge links, unknown-type
  counts) in memory for the whole partition instead of loading and rewriting them per
  batch;
- appends the one-row-per-event tables (timeline, purchases, touches) with COPY, a
  window of events at a time, and scrubs the customers forgotten in that window right
  after (what `apply_batch` does with a batch);
- writes the folded rows and every customer's checkpoints once, at the end, with COPY
  (merge links and unknown counts, which two partitions share, with the live upserts),
  and counts its customers' touches in one statement;
- keeps each customer's own purchase, touch and complaint facts too, so a profile's
  materialized columns (`projections.materialize`) go in with its row's COPY. Only a
  merge survivor's depend on other customers' facts (its duplicates', maybe in another
  partition): the rebuild materializes those once every partition is in.

The rows are made by the handlers' own functions (`fold`, `record`, `link`, `forget`),
so both paths build the same read model; tests compare a rebuild with an incremental
build. Memory grows with the partition's customers (~2 kB each), not with its events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from psycopg import Connection

from events import (
    ORGANISATION_ID,
    ContactTouchRecorded,
    CustomerForgotten,
    CustomerRegistered,
    PurchaseRecorded,
    StageMoved,
)
from events.vocabulary import RESOLVED
from projections.bulk import copy_records
from projections.derived import ComplaintFact, PurchaseFact
from projections.handlers import (
    PROJECTION_NAMES,
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
from projections.incoming import IncomingEvent
from projections.materialize import (
    MATERIALIZED_COLUMNS,
    Materialized,
    TreeFacts,
    columns_of,
    compute,
    note_moment,
)

Row = dict[str, Any]
CHECKPOINT_COLUMNS: Final = (("projection", "text"), ("subject_id", "uuid"), ("position", "bigint"))
FUNNEL_KINDS: Final = frozenset((CustomerRegistered.TYPE, StageMoved.TYPE))
COMPLAINT_KINDS: Final = frozenset(complaints.KINDS)
TASK_KINDS: Final = frozenset(tasks.KINDS)
DEFINITION_KINDS: Final = frozenset(custom_fields.KINDS)


@dataclass
class Window:
    """The rows a window of events appends, and the customers it forgot."""

    timeline: list[Row] = field(default_factory=list)
    purchases: list[Row] = field(default_factory=list)
    touches: list[Row] = field(default_factory=list)
    forgotten: set[UUID] = field(default_factory=set)


@dataclass
class PartitionReplay:
    """The folded state of one partition's replay so far; see the module docstring."""

    profiles: dict[UUID, Row] = field(default_factory=dict)
    complaints: dict[UUID, Row] = field(default_factory=dict)
    tasks: dict[UUID, Row] = field(default_factory=dict)
    definitions: dict[str, Row] = field(default_factory=dict)
    funnel: dict[UUID, Row] = field(default_factory=dict)
    links: dict[UUID, Row] = field(default_factory=dict)
    unknown: dict[str, Row] = field(default_factory=dict)
    latest: dict[UUID, int] = field(default_factory=dict)
    forgotten: set[UUID] = field(default_factory=set)
    organisation: list[IncomingEvent] = field(default_factory=list)
    """The organisation's events, applied as they are (a handful; not customer rows)."""
    bought: dict[UUID, list[PurchaseFact]] = field(default_factory=dict)
    touched: dict[UUID, dict[str, tuple[int, datetime]]] = field(default_factory=dict)
    """Per customer and channel, how many touches and the latest (`TOUCH_COUNTS_OF`)."""
    moments: dict[UUID, datetime] = field(default_factory=dict)
    """Per customer, its latest event's moment (`materialize.event_moment`): what its
    lifecycle and tier are computed as of."""

    def fold(self, events: Sequence[IncomingEvent]) -> Window:
        """Fold the partition's next events (position order) into memory; no I/O, so a
        caller may retry writing the returned window without folding twice."""
        window = Window()
        for event in events:
            self.latest[event.subject_id] = event.position
            if event.subject_id == ORGANISATION_ID:
                self.organisation.append(event)
                continue
            note_moment(self.moments, event)
            if event.on_own_stream:
                self._profile(event)
            if not event.known:
                continue
            kind = event.kind
            if not event.about_customer:
                if kind in DEFINITION_KINDS:
                    custom_fields.fold(self.definitions, event)
                continue
            window.timeline.append(timeline.record(event))
            if kind == PurchaseRecorded.TYPE:
                window.purchases.append(self._purchase(event))
            elif kind == ContactTouchRecorded.TYPE:
                window.touches.append(self._touch(event))
            elif kind in COMPLAINT_KINDS:
                self._complaint(event)
            elif kind in TASK_KINDS:
                self._task(event)
            elif kind in FUNNEL_KINDS:
                self._funnel(event)
            elif kind == CustomerForgotten.TYPE:
                window.forgotten.add(event.subject_id)
        merges.collect(self.links, events)
        unknown_events.count(self.unknown, events)
        self.forgotten |= window.forgotten
        return window

    def _profile(self, event: IncomingEvent) -> None:
        row = self.profiles.get(event.subject_id)
        if row is None:
            row = self.profiles[event.subject_id] = customers.new_row(event)
        customers.fold(row, event)

    def _purchase(self, event: IncomingEvent) -> Row:
        row = purchases.record(event)
        fact = PurchaseFact(row["occurred_at"], Decimal(row["total_cny"]))
        self.bought.setdefault(event.subject_id, []).append(fact)
        return row

    def _touch(self, event: IncomingEvent) -> Row:
        row = touches.record(event)
        channels = self.touched.setdefault(event.subject_id, {})
        count, last = channels.get(row["channel"], (0, row["occurred_at"]))
        channels[row["channel"]] = (count + 1, max(last, row["occurred_at"]))
        return row

    def _complaint(self, event: IncomingEvent) -> None:
        row = self.complaints.get(event.stream_id)
        if row is None:
            row = self.complaints[event.stream_id] = complaints.new_row(event)
        complaints.fold(row, event)

    def _task(self, event: IncomingEvent) -> None:
        row = self.tasks.get(event.stream_id)
        if row is None:
            row = self.tasks[event.stream_id] = tasks.new_row(event)
        tasks.fold(row, event)

    def _funnel(self, event: IncomingEvent) -> None:
        row = self.funnel.get(event.subject_id)
        if row is None:
            row = self.funnel[event.subject_id] = funnel.new_row(event)
        funnel.fold(row, event)

    def materialized(self, now: datetime | None) -> list[Materialized]:
        """Every profile's materialized columns from its own facts, as of `now`, or with
        `now` None as of its latest event (a merge survivor's are recomputed over its tree
        once every partition is in)."""
        facts = {
            cid: TreeFacts(
                row["stage"],
                None,
                ("", ""),
                purchases=self.bought.get(cid, []),
                touches=self.touched.get(cid, {}),
            )
            for cid, row in self.profiles.items()
        }
        for complaint in self.complaints.values():
            found = facts.get(complaint["customer_id"])
            if found is not None:
                severity = complaint["severity"] or ""
                found.complaints.append(
                    ComplaintFact(severity, complaint["filed_at"], complaint["resolved_at"])
                )
                found.open_complaints += complaint["status"] != RESOLVED
        return compute(facts, now, hints=self.moments if now is None else None)

    def checkpoints(self) -> list[Row]:
        """Every projection's checkpoint of every subject: its last position."""
        return [
            {"projection": name, "subject_id": subject, "position": position}
            for subject, position in sorted(self.latest.items())
            for name in PROJECTION_NAMES
        ]


def write_window(conn: Connection[Any], window: Window) -> None:
    """Append a window's rows, then scrub what its forgotten customers left before."""
    copy_records(conn, "rm_timeline", timeline.COLUMNS, window.timeline)
    copy_records(conn, "rm_purchases", purchases.COLUMNS, window.purchases)
    copy_records(conn, "rm_touches", touches.COLUMNS, window.touches)
    timeline.forget(conn, window.forgotten)
    touches.forget(conn, window.forgotten)


PROFILE_COLUMNS: Final = (*customers.COLUMNS, *MATERIALIZED_COLUMNS)


def write_profiles(conn: Connection[Any], replay: PartitionReplay, now: datetime | None) -> None:
    """The partition's profiles, in id order (the counters' triggers lock in key order),
    with their search keys (pinyin, phone digits) and materialized columns as of `now`
    computed once per profile."""
    columns = {m.id: columns_of(m) for m in replay.materialized(now)}
    rows = [replay.profiles[k] for k in sorted(replay.profiles)]
    for row in rows:
        customers.search_keys(row)
        row.update(columns[row["id"]])
    copy_records(conn, "rm_customers", PROFILE_COLUMNS, rows)


def write_folded(conn: Connection[Any], replay: PartitionReplay) -> None:
    """Everything else folded in memory, and the checkpoints; shared rows last."""
    copy_records(conn, "rm_complaints", complaints.COLUMNS, list(replay.complaints.values()))
    complaints.forget(conn, replay.forgotten)
    copy_records(conn, "rm_tasks", tasks.COLUMNS, list(replay.tasks.values()))
    tasks.forget(conn, replay.forgotten)
    copy_records(conn, "rm_funnel", funnel.COLUMNS, list(replay.funnel.values()))
    touches.count_all(conn, replay.latest)
    # The catalog is one stream, so one partition holds every definition.
    copy_records(conn, "rm_custom_fields", custom_fields.COLUMNS, list(replay.definitions.values()))
    copy_records(conn, "rm_applied", CHECKPOINT_COLUMNS, replay.checkpoints())
    merges.write(conn, replay.links)
    unknown_events.write(conn, replay.unknown)
    organisation.apply(conn, replay.organisation)


REPLAYED: Final = (
    "customers",
    "merges",
    "purchases",
    "touches",
    "complaints",
    "tasks",
    "custom_fields",
    "funnel",
    "timeline",
    "organisation",
    "unknown_events",
)
"""The projections `PartitionReplay` writes: a full rebuild checks it covers them all."""


def check_covers(names: Sequence[str] = PROJECTION_NAMES) -> None:
    """Refuse a full rebuild that would leave a projection out (one added to
    `PROJECTIONS` but not taught to the replay)."""
    missing = sorted(set(names) - set(REPLAYED))
    if missing:
        raise RuntimeError(f"projections/replay.py does not replay: {', '.join(missing)}")
