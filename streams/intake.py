"""What a worker does with a batch of raw messages: trust, parse, validate, apply, park.

Only authenticated, schema-valid envelopes reach the sink, so a foreign message with a
forged position can never advance a checkpoint. Everything else is parked with its
reason (`streams.parking`) and the valid messages around it are applied: one bad message
never stops a worker, never makes it crash-loop, and never costs its neighbours.

Errors of the machinery rather than of a message (the database or the disk is gone) are
raised: the processor then exits without acknowledging the batch and is restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from streams.envelope import InvalidEnvelope, decode, validate
from streams.parking import RawMessage, create_parking, park
from streams.signing import signature_problem

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Mapping[str, Any]]], Any]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, OSError)
"""The sink's infrastructure failing: retried by a restart, never blamed on a message."""

Accepted = tuple[RawMessage, dict[str, Any]]  # a message and its screened envelope
Refused = tuple[RawMessage, str]  # a message and why it is parked


class Rejected(Exception):
    """A message that will not be applied; `reason` names the rule it broke."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def screen(message: RawMessage, signing_key: bytes) -> dict[str, Any]:
    """The message's envelope if it is the relay's, JSON and schema-valid; else `Rejected`."""
    problem = signature_problem(signing_key, message.headers, message.key, message.value)
    if problem is not None:
        raise Rejected(problem)
    try:
        envelope = decode(message.value)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Rejected(f"not JSON: {error}") from None
    if not isinstance(envelope, dict):
        raise Rejected(f"invalid envelope: a JSON {type(envelope).__name__}, not an object")
    try:
        validate(envelope)
    except InvalidEnvelope as error:
        raise Rejected(f"invalid envelope: {error}") from None
    return envelope


@dataclass(frozen=True)
class IntakeResult:
    applied: int
    parked: int


class Intake:
    """Screens each batch, applies the good envelopes with `sink`, parks the rest."""

    def __init__(self, group: str, signing_key: bytes, sink: Sink, database_url: str) -> None:
        self.group = group
        self.signing_key = signing_key
        self.sink = sink
        self.conn = psycopg.connect(database_url, autocommit=True)
        create_parking(self.conn)
        self.parked = 0

    def __call__(self, messages: Sequence[RawMessage]) -> IntakeResult:
        accepted: list[Accepted] = []
        rejected: list[Refused] = []
        for message in messages:
            try:
                accepted.append((message, screen(message, self.signing_key)))
            except Rejected as error:
                rejected.append((message, error.reason))
        failed = self.apply(accepted)
        rejected += failed
        for message, reason in rejected:
            log.warning(
                "parked %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason
            )
        self.parked += park(self.conn, self.group, rejected)
        return IntakeResult(applied=len(accepted) - len(failed), parked=len(rejected))

    def apply(
        self, accepted: Sequence[tuple[RawMessage, dict[str, Any]]]
    ) -> list[tuple[RawMessage, str]]:
        """Apply the batch; when it fails, apply one message at a time to find the poison.

        Returns the messages that failed on their own, with why. When every message of a
        batch of several fails alone too, the sink is broken rather than the messages:
        that is raised (restart and redeliver) instead of parking the whole batch.
        """
        if not accepted:
            return []
        try:
            self.sink([envelope for _, envelope in accepted])
            return []
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            log.exception("a batch of %d failed; applying one at a time", len(accepted))
            batch_error = error
        failed: list[Refused] = []
        for message, envelope in accepted:
            try:
                self.sink([envelope])
            except TRANSIENT_ERRORS:
                raise
            except Exception as error:
                failed.append((message, f"cannot apply: {type(error).__name__}: {error}"))
        if len(accepted) > 1 and len(failed) == len(accepted):
            raise batch_error
        return failed

    def retry(self, message: RawMessage) -> str | None:
        """Apply a parked message through the same checks: None when applied, else why not."""
        try:
            envelope = screen(message, self.signing_key)
        except Rejected as error:
            return error.reason
        failed = self.apply([(message, envelope)])
        return failed[0][1] if failed else None

    def rejoin(self, group: str) -> None:
        """Park under `group` from now on: the worker moved to the consumer group of a new
        generation or a widened topic, whose offsets (the parking lot's key) name messages
        of another log."""
        self.group = group

    def close(self) -> None:
        self.conn.close()
