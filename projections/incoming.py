"""The CloudEvents envelope as the projections read it.

The relay publishes every event version that ever existed (old events keep their old
shape on the topic), so parsing also upcasts `data` with the event classes' own
``upcast_vN_vN1`` methods: the handlers then only know the current shape of each event.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from events import BY_TYPE, ORGANISATION_ID, ConfigurationFact, CrmEvent


class MalformedEnvelope(ValueError):
    """An envelope without the attributes every projection relies on (position, subject…).

    Raised rather than skipped: silently dropping a known event would corrupt the read
    models, while an unknown *type* is merely counted (see `IncomingEvent.known`).
    """


@dataclass(frozen=True)
class IncomingEvent:
    """One delivered event: envelope attributes typed, `data` upcast to the current shape."""

    position: int
    type_name: str
    kind: str
    schema_version: int
    subject_id: UUID
    stream_id: UUID
    stream_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str | None
    event_id: str
    data: Mapping[str, Any] = field(repr=False)
    event_class: type[CrmEvent] | None = field(default=None, repr=False)

    @property
    def known(self) -> bool:
        """Whether this build understands the event (type known, version not from the future)."""
        return self.event_class is not None

    @property
    def about_customer(self) -> bool:
        """False for facts about the platform's set-up (custom field definitions, the
        organisation's departments, teams and routing), whose subject is their own
        stream, not a customer: known by their class (`events.ConfigurationFact`), or by
        the organisation's stream for a type this build does not know."""
        if self.event_class is None:
            return self.subject_id != ORGANISATION_ID
        return not issubclass(self.event_class, ConfigurationFact)

    @property
    def on_own_stream(self) -> bool:
        """True for the customer's own events; false for events of its complaints, tasks,
        and for configuration facts (streams that are their own subject but no customer:
        no profile is folded from those)."""
        return self.stream_id == self.subject_id and self.about_customer

    @property
    def personal_fields(self) -> tuple[str, ...]:
        """Fields to scrub on forgetting; an unknown event may hold anything, so all of them."""
        if self.event_class is None:
            return tuple(self.data)
        return self.event_class.PERSONAL


def split_type(type_name: str) -> tuple[str, int]:
    """``crm.customer.registered.v1`` -> (``crm.customer.registered``, 1); version 0 if absent."""
    base, sep, version = type_name.rpartition(".v")
    if not sep or not version.isdigit():
        return type_name, 0
    return base, int(version)


def _required(envelope: Mapping[str, Any], name: str) -> Any:
    value = envelope.get(name)
    if value is None:
        raise MalformedEnvelope(f"envelope without {name!r}: id={envelope.get('id')!r}")
    return value


def _timestamp(envelope: Mapping[str, Any], name: str) -> datetime:
    value = datetime.fromisoformat(str(_required(envelope, name)))
    if value.tzinfo is None:
        raise MalformedEnvelope(f"{name!r} without a time zone: {value.isoformat()}")
    return value


def _current_version(event_class: type[CrmEvent]) -> int:
    return int(getattr(event_class, "class_version", 1))


def _upcast(event_class: type[CrmEvent], version: int, data: dict[str, Any]) -> bool:
    """Bring `data` from `version` to the class's current version; False when impossible."""
    current = _current_version(event_class)
    if version < 1 or version > current:
        return False
    for step in range(version, current):
        upcaster = getattr(event_class, f"upcast_v{step}_v{step + 1}", None)
        if upcaster is None:
            return False
        upcaster(data)
    return True


def parse_envelope(envelope: Mapping[str, Any]) -> IncomingEvent:
    """Type the envelope; unknown types and future versions come back with `known` false."""
    try:
        type_name = str(_required(envelope, "type"))
        kind, version = split_type(type_name)
        data = dict(envelope.get("data") or {})
        event_class = BY_TYPE.get(kind)
        if event_class is not None and version != _current_version(event_class):
            data = copy.deepcopy(data)  # upcasters change nested values in place
            if not _upcast(event_class, version, data):
                event_class = None
        return IncomingEvent(
            position=int(_required(envelope, "position")),
            type_name=type_name,
            kind=kind,
            schema_version=version,
            subject_id=UUID(str(_required(envelope, "subject"))),
            stream_id=UUID(str(envelope.get("stream") or envelope["subject"])),
            stream_version=int(envelope.get("version") or 0),
            occurred_at=_timestamp(envelope, "time"),
            recorded_at=_timestamp(envelope, "recordedat")
            if envelope.get("recordedat")
            else _timestamp(envelope, "time"),
            actor=envelope.get("actor"),
            event_id=str(envelope.get("id") or ""),
            data=data,
            event_class=event_class,
        )
    except (TypeError, ValueError, KeyError) as error:
        if isinstance(error, MalformedEnvelope):
            raise
        where = f"id={envelope.get('id')!r}"
        raise MalformedEnvelope(f"cannot read envelope {where}: {error}") from error
