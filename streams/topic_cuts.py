"""Widening a live topic by a cut-over: which physical topic holds which positions.

Adding partitions to a live Kafka topic moves keys to other partitions: a customer's next
event could be applied before the older ones still queued on its old partition, and the
projections' per-customer checkpoints would then skip those as "already applied" (lost).
(The embedded Tansu 0.6 refuses CreatePartitions anyway.) So the platform never widens a
topic in place; it cuts over to a new one:

- `crm topic widen --partitions N` creates `<base>.p<N>` and records a request here;
- the leading relay drains what it has in flight, so every event up to its bookmark P is
  on the old topic, then records the cut (P, the old topic's partition ends at that
  moment) and publishes every event after P to the new topic;
- a worker reads the old topic until its consumer group has committed every partition
  up to the cut's ends, and only then moves to the new topic. Every event <= P is thus
  applied before any event > P, for every customer, with any number of replicas.

The configured topic (`CRM_KAFKA_TOPIC`, the *base*) keeps naming the relay's bookmark,
its leader lock and the broker generation (`streams.generation`); the cuts map it to the
physical topics. A broker that lost its log (the embedded one, restarted) gets every
event again on the newest topic alone: a generation's log starts on the topic that was
current when it began, followed by the cuts made within it (`segments`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

CUTS_DDL = """
CREATE TABLE IF NOT EXISTS crm_topic_cuts (
    base text NOT NULL,
    seq integer NOT NULL,
    topic text NOT NULL,
    partitions integer NOT NULL,
    replication_factor integer NOT NULL DEFAULT 1,
    requested_at timestamptz NOT NULL DEFAULT now(),
    position bigint,
    ends jsonb,
    generation integer,
    cut_at timestamptz,
    PRIMARY KEY (base, seq)
)
"""
"""One row per widening of `base`: requested (position NULL) until the relay cuts it.
`position`: the last event on the previous topic; `ends`: the previous topic's end offset
per partition at the cut; `generation`: the broker generation the cut was made in."""


@dataclass(frozen=True)
class Cut:
    """One widening: events after `position` go to `topic` (None while only requested)."""

    seq: int
    topic: str
    partitions: int
    replication_factor: int = 1
    position: int | None = None
    ends: Mapping[int, int] | None = None
    generation: int | None = None

    @property
    def done(self) -> bool:
        return self.position is not None


@dataclass(frozen=True)
class Segment:
    """One physical topic of a generation's log: it holds the events after `after`, up to
    `until` (None: the open end, where the relay publishes now). `ends`: its partition end
    offsets at the cut that closed it; a consumer is done with it once it has read them."""

    topic: str
    after: int = 0
    until: int | None = None
    ends: Mapping[int, int] | None = None

    @property
    def closed(self) -> bool:
        return self.until is not None


def widened_name(base: str, partitions: int) -> str:
    """The new topic's name: partition counts only grow, so each name is used once."""
    return f"{base}.p{partitions}"


def current(base: str, cuts: Sequence[Cut]) -> str:
    """The topic the relay publishes to now: the newest cut's, else the base."""
    done = [cut for cut in cuts if cut.done]
    return max(done, key=lambda c: c.seq).topic if done else base


def current_partitions(cuts: Sequence[Cut], default: int) -> tuple[int, int]:
    """(partitions, replication factor) of the current topic; `default` for the base."""
    done = [cut for cut in cuts if cut.done]
    if not done:
        return default, 1
    newest = max(done, key=lambda c: c.seq)
    return newest.partitions, newest.replication_factor


def segments(base: str, generation: int, cuts: Sequence[Cut]) -> list[Segment]:
    """The topics that hold generation `generation`'s log, oldest first; the last is open.

    The generation starts on the topic that was current when it began (a broker loss
    re-publishes everything there), then each cut made within it adds a topic."""
    done = sorted((c for c in cuts if c.done), key=lambda c: c.seq)
    earlier = [c for c in done if (c.generation or 0) < generation]
    within = [c for c in done if (c.generation or 0) == generation]
    topic = earlier[-1].topic if earlier else base
    found: list[Segment] = []
    after = 0
    for cut in within:
        assert cut.position is not None
        found.append(Segment(topic, after, cut.position, dict(cut.ends or {})))
        topic, after = cut.topic, cut.position
    found.append(Segment(topic, after))
    return found


def read_up_to(ends: Mapping[int, int], committed: Mapping[int, int | None]) -> bool:
    """True when a group's committed offsets reach every partition's end at the cut (a
    committed offset is the next one to read; an empty partition needs nothing)."""
    return all((committed.get(p) or 0) >= end for p, end in ends.items() if end > 0)


def first_unread(found: Sequence[Segment], committed_on: Any) -> tuple[int, Segment]:
    """The first segment a consumer group has not read to its end: where a worker starts.
    `committed_on(segment)` gives the group's committed offsets on that segment's topic."""
    for index, segment in enumerate(found):
        if not segment.closed:
            return index, segment
        if not read_up_to(segment.ends or {}, committed_on(segment)):
            return index, segment
    return len(found) - 1, found[-1]


# -- storage --------------------------------------------------------------------------------


def create_cuts(conn: psycopg.Connection[Any]) -> None:
    conn.execute(CUTS_DDL)


def load_cuts(conn: psycopg.Connection[Any], base: str) -> list[Cut]:
    """Every cut of `base`, requested or made, oldest first ([] before the first widening)."""
    exists = conn.execute("SELECT to_regclass('crm_topic_cuts')").fetchone()
    if not exists or exists[0] is None:
        return []
    rows = conn.execute(
        "SELECT seq, topic, partitions, replication_factor, position, ends, generation "
        "FROM crm_topic_cuts WHERE base = %s ORDER BY seq",
        (base,),
    ).fetchall()
    return [
        Cut(
            seq,
            topic,
            partitions,
            replication,
            position,
            {int(p): int(e) for p, e in ends.items()} if ends is not None else None,
            generation,
        )
        for seq, topic, partitions, replication, position, ends, generation in rows
    ]


def current_on(conn: psycopg.Connection[Any], base: str) -> str:
    """The topic events go to now, read on `conn` (the gateway's live events ask this)."""
    return current(base, load_cuts(conn, base))


def pending(cuts: Sequence[Cut]) -> Cut | None:
    """The requested cut the relay has not made yet (at most one is open at a time)."""
    return next((cut for cut in cuts if not cut.done), None)


def request_cut(
    conn: psycopg.Connection[Any], base: str, topic: str, partitions: int, replication: int
) -> Cut:
    """Record a widening for the relay to make; an open request is returned as it is."""
    with conn.transaction():
        create_cuts(conn)
        conn.execute("LOCK TABLE crm_topic_cuts IN EXCLUSIVE MODE")
        open_request = pending(load_cuts(conn, base))
        if open_request is not None:
            return open_request
        row = conn.execute(
            "INSERT INTO crm_topic_cuts (base, seq, topic, partitions, replication_factor) "
            "SELECT %s, coalesce(max(seq), 0) + 1, %s, %s, %s FROM crm_topic_cuts "
            "WHERE base = %s RETURNING seq",
            (base, topic, partitions, replication, base),
        ).fetchone()
    assert row is not None
    return Cut(int(row[0]), topic, partitions, replication)


def complete_cut(
    conn: psycopg.Connection[Any],
    base: str,
    cut: Cut,
    position: int,
    ends: Mapping[int, int],
    generation: int,
) -> Cut:
    """Record that events up to `position` are on the old topic (its partitions end at
    `ends`) and later ones go to `cut.topic`. The relay's remembered partition ends are
    the old topic's: they are cleared in the same transaction, or a relay taking over
    would compare the new topic with them and take it for a broker that lost data."""
    with conn.transaction():
        conn.execute(
            "UPDATE crm_topic_cuts SET position = %s, ends = %s, generation = %s, "
            "cut_at = now() WHERE base = %s AND seq = %s",
            (position, json.dumps({str(p): e for p, e in ends.items()}), generation, base, cut.seq),
        )
        conn.execute(
            "UPDATE crm_relay_progress SET partition_ends = '{}', updated_at = now() "
            "WHERE topic = %s",
            (base,),
        )
    return Cut(
        cut.seq, cut.topic, cut.partitions, cut.replication_factor, position, ends, generation
    )
