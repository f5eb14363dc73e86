"""What a save computes before it takes the events table's lock.

Saves are serialised by the EXCLUSIVE lock on the events table (`commands.recorder`):
while one writer holds it, every other one waits. Only three things need the positions
that the insert hands out under it: the position column of the metadata and envelope
rows, each envelope's ``position`` field (and so its signature), and each chain link
(whose body starts with the position and whose hash covers the link before). Everything
else is built here, before the transaction begins: the events' arrays, the metadata's
columns, each envelope's JSON around its position, each link's body after it. The lock
is then held for the round trips and a hash or two an event, not for the save's Python
(with two bulk writers it was held ~60% of the time, mostly for that Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from commands.binary_arrays import BinaryArray, bytea_array, int8_array, text_array, uuid_array
from commands.chain import MetaFields, link_tail, micros_of
from commands.mapper import MappedEvent

if TYPE_CHECKING:  # the recorder imports this module; these are only its types
    from commands.recorder import (
        EnvelopeDraft,
        EnvelopeEncoder,
        EventKey,
        Provenance,
        WriteEffects,
    )


@dataclass(frozen=True, slots=True)
class PreparedEnvelopes:
    """The envelopes of the events at `indexes` (those the mapper sealed), drafted, with
    their columns that do not depend on the position already encoded."""

    indexes: list[int]
    drafts: Sequence[EnvelopeDraft]
    columns: tuple[BinaryArray, ...]  # type, subject, id, time, traceparent


@dataclass(frozen=True, slots=True)
class PreparedSave:
    """One save's rows, short of the positions."""

    events: tuple[BinaryArray, ...]  # originator ids, versions, topics, states
    keys: list[EventKey]
    link_tails: list[bytes]
    scoped: list[int]  # indexes of the events that open a stream of another customer
    recorded_at: datetime
    meta: tuple[BinaryArray, ...] | None  # actors, correlations, causations, commands
    envelopes: PreparedEnvelopes | None


def prepare_save(
    stored_events: Sequence[StoredEvent],
    effects: WriteEffects | None,
    recorded_at: datetime,
    scoped_topics: frozenset[str],
    envelopes: EnvelopeEncoder | None,
) -> PreparedSave:
    keys = [(cast_uuid(se.originator_id), se.originator_version) for se in stored_events]
    events = (
        uuid_array([stream for stream, _ in keys]),
        int8_array([version for _, version in keys]),
        text_array([se.topic for se in stored_events]),
        bytea_array([se.state for se in stored_events]),
    )
    scoped = [
        n
        for n, se in enumerate(stored_events)
        if se.originator_version == 1 and se.topic in scoped_topics
    ]
    metas: list[MetaFields | None] = [None] * len(keys)
    meta_columns = drafted = None
    if effects is not None:
        default = (effects.actor, effects.correlation_id, effects.causation_id)
        provenance = [effects.contexts.get(key, default) for key in keys]
        names = [effects.commands.get(key, effects.default_command) for key in keys]
        micros = micros_of(recorded_at)
        metas = [
            MetaFields(
                actor,
                correlation.bytes if correlation is not None else None,
                causation.bytes if causation is not None else None,
                name,
                micros,
            )
            for (actor, correlation, causation), name in zip(provenance, names, strict=True)
        ]
        meta_columns = (
            text_array([actor for actor, _, _ in provenance]),
            uuid_array([correlation for _, correlation, _ in provenance]),
            uuid_array([causation for _, _, causation in provenance]),
            text_array(names),
        )
        if envelopes is not None:
            drafted = _draft_envelopes(envelopes, stored_events, provenance, recorded_at)
    tails = [
        link_tail(stream.bytes, version, se.topic, se.state, meta)
        for (stream, version), se, meta in zip(keys, stored_events, metas, strict=True)
    ]
    return PreparedSave(events, keys, tails, scoped, recorded_at, meta_columns, drafted)


def _draft_envelopes(
    encode: EnvelopeEncoder,
    stored_events: Sequence[StoredEvent],
    provenance: Sequence[Provenance],
    recorded_at: datetime,
) -> PreparedEnvelopes | None:
    """Events that did not come through the mapper (no sealed state) get none; the relay
    builds theirs from the stored event."""
    indexes: list[int] = []
    mapped: list[MappedEvent] = []
    for n, se in enumerate(stored_events):
        if isinstance(se, MappedEvent):
            indexes.append(n)
            mapped.append(se)
    if not indexes:
        return None
    drafts = encode(mapped, [provenance[n] for n in indexes], recorded_at)
    columns = (
        text_array([d.type for d in drafts]),
        text_array([d.subject for d in drafts]),
        text_array([d.id for d in drafts]),
        text_array([d.time for d in drafts]),
        text_array([d.traceparent for d in drafts]),
    )
    return PreparedEnvelopes(indexes, drafts, columns)


def cast_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
