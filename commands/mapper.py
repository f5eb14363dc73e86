"""A mapper that seals personal fields under their customer's key, and opens them on read.

Stored shape (JSON, before the library's own transcoding): each non-null field named in
the event class's ``PERSONAL`` is taken out of the state and put, sealed, under
``"_pii": {field: base64(nonce || AES-GCM(json(value)))}``. Keeping sealed values in their
own object (rather than in place) makes the shape unambiguous: a plain string that
happens to look like ciphertext is never mistaken for one. Null personal values stay
null in the clear, because there is nothing to hide in "absent".

Snapshots hold a whole aggregate's state, personal data included, so their entire
``state`` is sealed the same way; forgetting deletes the customer's snapshots in the same
transaction, and later loads replay the (redacted) events instead.

Reading with the key gone yields None for every sealed field: the event keeps its type,
time, position and every non-personal field, which is what the audit trail needs.

Reading stored bytes that were damaged (a flipped byte: a sealed value that no longer
authenticates or decodes, or a state that is no longer JSON) raises `CorruptedValue`
naming the stream, version and field, never a bare crypto or JSON error. Readers that
must go on past it (the audit trail) pass ``damaged=[]``: each unreadable sealed field
then reads as None and its name is added to the list.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

from commands.crypto import KeyDestroyed, UnreadableCiphertext, field_aad, open_sealed, seal
from commands.keys import KeyRing
from events.base import CustomerScoped
from events.customer import CustomerForgotten

SEALED = "_pii"
SNAPSHOT_STATE = "state"
WHOLE_STATE = "state"
"""The `CorruptedValue.field` of an event whose stored state as a whole is unreadable."""


class CorruptedValue(MapperDeserialisationError):
    """Stored bytes of an event (or snapshot) that no longer read: damaged in storage.

    `field` is the sealed field that failed, or `WHOLE_STATE` when the state itself is
    no longer JSON; `reason` says what failed (authentication, base64, JSON).
    """

    def __init__(self, stream_id: UUID, version: int, field: str, reason: str) -> None:
        super().__init__(
            f"stored {'state' if field == WHOLE_STATE else f'sealed field {field!r}'} of "
            f"stream {stream_id} version {version} is unreadable: {reason}"
        )
        self.stream_id = stream_id
        self.version = version
        self.field = field
        self.reason = reason


_UNREADABLE = (UnreadableCiphertext, binascii.Error, ValueError, TypeError)
"""What opening a damaged sealed value raises: a bad tag, bad base64, bad JSON inside."""


def personal_fields(cls: type[Any]) -> tuple[str, ...]:
    """The fields of an event class that hold personal data (``PERSONAL``)."""
    return cast(tuple[str, ...], getattr(cls, "PERSONAL", ()))


def is_snapshot(cls: type[Any]) -> bool:
    return isinstance(cls, type) and issubclass(cls, CanSnapshotAggregate)


def subject_of(cls: type[Any], state: dict[str, Any], originator_id: UUID) -> UUID:
    """Whose key seals this event: complaint facts belong to their customer.

    For snapshots, an aggregate state carrying a ``customer_id`` (a complaint) belongs to
    that customer; anything else (a customer) to itself.
    """
    if issubclass(cls, CustomerScoped) or is_snapshot(cls):
        candidate = state.get("customer_id")
        if isinstance(candidate, UUID):
            return candidate
    return originator_id


@dataclass(frozen=True)
class MappedEvent(StoredEvent):
    """A stored event on its way in, with the state it was encoded from (personal fields
    sealed under `SEALED`), so the recorder can write its wire envelope at commit
    (`commands.recorder.EnvelopeEncoder`) without decoding the bytes back."""

    sealed_state: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class CrmMapper(Mapper[UUID]):
    """`Mapper` with per-customer field encryption (see module docstring)."""

    def __init__(self, transcoder: Transcoder, keys: KeyRing) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys

    # -- writing --------------------------------------------------------------------------

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        cls = type(domain_event)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        names = (SNAPSHOT_STATE,) if is_snapshot(cls) else personal_fields(cls)
        to_seal = [name for name in names if event_state.get(name) is not None]
        if to_seal:
            subject = subject_of(cls, event_state, originator_id)
            cipher = self.keys.for_write(subject)
            sealed: dict[str, str] = {}
            for name in to_seal:
                plain = self.transcoder.encode(event_state.pop(name))
                blob = seal(cipher, plain, field_aad(subject, name))
                sealed[name] = base64.b64encode(blob).decode("ascii")
            event_state[SEALED] = sealed
        encoded = (originator_id, originator_version, get_topic(cls))
        state = self.transcoder.encode(event_state)
        if is_snapshot(cls):  # never published
            return StoredEvent(*encoded, state)
        return MappedEvent(*encoded, state, sealed_state=event_state)

    # -- reading --------------------------------------------------------------------------

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.decode(stored_event)

    def decode(
        self, stored_event: StoredEvent, *, redact: bool = False, damaged: list[str] | None = None
    ) -> Any:
        """The event object; sealed fields opened, or None if `redact` or the key is gone.

        `damaged`: see the module docstring (None: raise `CorruptedValue`)."""
        cls = resolve_topic(stored_event.topic)
        event_state = self.decode_state(stored_event, cls=cls, redact=redact, damaged=damaged)
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        if isinstance(cls, type) and issubclass(cls, CustomerForgotten):
            # Whoever reads the forget (relay, projections, loads) stops decrypting now.
            self.keys.tombstone(event_state["originator_id"])
        return domain_event

    def decode_state(
        self,
        stored_event: StoredEvent,
        *,
        cls: Any = None,
        redact: bool = False,
        damaged: list[str] | None = None,
    ) -> dict[str, Any]:
        """The event's state as a plain dict (upcast to the current class version)."""
        cls = cls if cls is not None else resolve_topic(stored_event.topic)
        id_convertor = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        originator_id = cast(UUID, id_convertor(stored_event.originator_id))
        try:
            event_state: dict[str, Any] = self.transcoder.decode(stored_event.state)
        except Exception as error:
            raise CorruptedValue(
                originator_id, stored_event.originator_version, WHOLE_STATE, f"not JSON: {error}"
            ) from error
        event_state["originator_id"] = originator_id
        event_state["originator_version"] = stored_event.originator_version
        sealed = event_state.pop(SEALED, None) or {}
        if sealed:
            self._open_fields(cls, event_state, sealed, originator_id, redact, damaged)
        self._hide_clear_fields(cls, event_state, originator_id, sealed, redact=redact)
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        return event_state

    def _hide_clear_fields(
        self,
        cls: Any,
        event_state: dict[str, Any],
        originator_id: UUID,
        sealed: Mapping[str, str],
        *,
        redact: bool,
    ) -> None:
        """Personal fields stored in clear (recorded before the field was sealed, e.g. a
        v2 touch's `outcome`) read as None when redacting or once the key is gone, like
        sealed ones; their bytes stay in the store, where the erasure's scan reports them.
        The `sealed` ones were just opened (or hidden) with the key: not looked up again.
        """
        clear = [
            n for n in personal_fields(cls) if n not in sealed and event_state.get(n) is not None
        ]
        if not clear or is_snapshot(cls):
            return
        if not redact:
            subject = subject_of(cls, event_state, originator_id)
            if self.keys.for_read(subject) is not None:
                return
        for name in clear:
            event_state[name] = None

    def _open_fields(
        self,
        cls: Any,
        event_state: dict[str, Any],
        sealed: dict[str, str],
        originator_id: UUID,
        redact: bool,
        damaged: list[str] | None,
    ) -> None:
        subject = subject_of(cls, event_state, originator_id)
        cipher = None if redact else self.keys.for_read(subject)
        for name, text in sealed.items():
            if cipher is None:
                event_state[name] = None
                continue
            try:
                blob = base64.b64decode(text, validate=True)
                plain = open_sealed(cipher, blob, field_aad(subject, name))
                event_state[name] = self.transcoder.decode(plain)
            except _UNREADABLE as error:
                if damaged is None:
                    version = int(event_state["originator_version"])
                    raise CorruptedValue(originator_id, version, name, _reason(error)) from error
                damaged.append(name)
                event_state[name] = None
        if cipher is None and not redact and is_snapshot(cls):
            # A snapshot is useless without its state; the caller must replay events.
            raise KeyDestroyed(subject)


def _reason(error: Exception) -> str:
    if isinstance(error, UnreadableCiphertext):
        return "the sealed value does not authenticate (altered bytes, or another key)"
    if isinstance(error, binascii.Error):
        return f"the sealed value is not base64 ({error})"
    return f"the opened value does not decode ({error})"
