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

MESSAGE_FAULTS: tuple[type[BaseException], ...] = (
    psycopg.DataError,  # a value PostgreSQL refuses: out of range, a NUL in a text
    psycopg.IntegrityError,  # a constraint the event breaks
    ValueError,  # a field that does not decode (base64, a number, a time, UTF-8)
    ArithmeticError,
    LookupError,  # a field the event lacks
)
"""Errors that say what is wrong with a message, not with the sink: a batch failing with
only these is parked, even when all of it fails."""

PAST_IT = (
    "not applied: its customer's read models are past this event (a later one of theirs "
    "was applied, or a rebuild applied it); `crm projections rebuild` applies every stored "
    "event, then drop this message"
)

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
        batch of several fails alone too, and not every failure is the message's own
        fault (`MESSAGE_FAULTS`), the sink is broken rather than the messages: that is
        raised (restart and redeliver) instead of parking the whole batch. A batch made
        only of poison is parked: it would come back after every restart.
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
        faults: list[Exception] = []
        for message, envelope in accepted:
            try:
                self.sink([envelope])
            except TRANSIENT_ERRORS:
                raise
            except Exception as error:
                failed.append((message, f"cannot apply: {type(error).__name__}: {error}"))
                faults.append(error)
        whole_batch = len(accepted) > 1 and len(failed) == len(accepted)
        if whole_batch and not all(isinstance(f, MESSAGE_FAULTS) for f in faults):
            raise batch_error
        return failed

    def retry(self, message: RawMessage) -> str | None:
        """Apply a parked message through the same checks: None when applied, else why not
        (it then stays parked). A sink that applied nothing because its customer's read
        models are past the event (`ApplyResult.duplicates`) did not apply it either."""
        try:
            envelope = screen(message, self.signing_key)
        except Rejected as error:
            return error.reason
        try:
            result = self.sink([envelope])
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            return f"cannot apply: {type(error).__name__}: {error}"
        if getattr(result, "applied", None) == 0 and getattr(result, "duplicates", 0):
            return PAST_IT
        return None

    def rejoin(self, group: str) -> None:
        """Park under `group` from now on: the worker moved to the consumer group of a new
        generation or a widened topic, whose offsets (the parking lot's key) name messages
        of another log."""
        self.group = group

    def close(self) -> None:
        self.conn.close()
