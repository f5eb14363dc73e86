"""Schema validation of a sample of the relay's messages, counted for `/metrics`.

Validating every message was 13% of the relay's time. Every envelope is built by one
function from the event classes the schemas are generated from, so the contract is
proven by the tests and by `crm schemas check` (committed schemas = generated ones); in
production the relay checks one message in `every` and counts failures. A failure is
logged and the message still goes out: the workers screen every message and park an
invalid one with its reason (`crm parked`), so stopping the relay would only stop every
valid event behind it too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.envelope import InvalidEnvelope, validate
from streams.relay_progress import ValidationCounts
from streams.source import EventSource, message_of

log = logging.getLogger(__name__)

VALIDATE_EVERY = 100
"""The default sample: one message in a hundred (1 validates every message, 0 none)."""


class SampledValidator:
    def __init__(self, every: int = VALIDATE_EVERY) -> None:
        if every < 0:
            raise ValueError(f"validate_every must be 0 (never) or more, not {every}")
        self.every = every
        self.counts = ValidationCounts()
        self._since = 0

    def due(self) -> bool:
        """Whether the next message is the sample's: one in `every` (never when 0)."""
        if not self.every:
            return False
        self._since += 1
        if self._since < self.every:
            return False
        self._since = 0
        return True

    def check(self, envelope: Mapping[str, Any]) -> None:
        """Validate one (sampled) envelope and count the outcome."""
        self.counts.validated += 1
        try:
            validate(envelope)
        except InvalidEnvelope as error:
            self.counts.invalid += 1
            log.error("relay: message %s breaks its schema (sent; workers park it): %s",
                      envelope.get("id"), error)  # fmt: skip

    def take_counts(self) -> ValidationCounts:
        """The counts since the last call (saved with the bookmark, added up there)."""
        counts, self.counts = self.counts, ValidationCounts()
        return counts


def validate_stored(source: EventSource, signing_key: bytes, batch: int = 1000) -> StoreCheck:
    """Every stored event as the relay would send it (its wire bytes, parsed) against the
    committed schemas: what `crm schemas check --events` runs, the full check that the
    relay only samples."""
    check, position = StoreCheck(), 0
    while (stored := source.read_stored_after(position, batch)).events:
        for event in stored.events:
            envelope = json.loads(message_of(signing_key, event).value)
            check.checked += 1
            try:
                validate(envelope)
            except InvalidEnvelope as error:
                check.problems.append(f"position {envelope.get('position')}: {error}")
        position = stored.last_position
    return check


@dataclass
class StoreCheck:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
