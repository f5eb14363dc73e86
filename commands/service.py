"""The command service: commands in, events (and their side rows) out, in one transaction.

`handle` runs one command; `handle_many` runs a batch in one transaction, all or nothing
(imports, demo seeding). Both go through the same attempt:

1. look up the stored results of the idempotency keys given, each scoped to its
   command's subject (the context's actor) and checked against the command's
   fingerprint (`commands.idempotency`; skipped without keys);
2. run each command's handler on a unit of work (identity map of aggregates; copies
   cached from this process's earlier commands are used without a query);
3. derive the side effects from the new events and save everything at once (two round
   trips: a command on a cached customer costs no more).

A concurrent write to the same stream (the events table's primary key) retries the whole
attempt with jittered back-off (tenacity): aggregates are reloaded, expected versions
re-checked (so a pinned, now stale command fails with CONFLICT on ``expectedVersion``),
and idempotency keys re-read (so a racing duplicate returns the winner's result). Other
violated constraints are told apart by name and turned into domain errors. A cached copy
that another process has moved past is caught the same way when the command changed it
(its save clashes on the version key), and by one check (`UnitOfWork.stale_copies`) when
the command only read it or was refused on it; that attempt is retried at once, on
current state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from aggregates.errors import Conflict, DomainError, NotFound, RuleViolated, ValidationFailed
from aggregates.policy import Policy
from aggregates.validation import check_occurred_at
from commands.application import CrmApplication
from commands.crypto import KeyDestroyed
from commands.effects import derive_effects
from commands.handlers import HANDLERS, Handler, Outcome
from commands.idempotency import ScopedKey, check_replay, fingerprint, mismatch, scoped_key
from commands.messages import Command, CommandContext, CommandResult
from commands.recorder import (
    CUSTOMER_KEYS_PKEY,
    EMAIL_PKEY,
    IDEMPOTENCY_PKEY,
    EventKey,
    IdempotencyRecord,
    MergedMeanwhile,
    StoredResult,
    WriteEffects,
)
from commands.tracing import command_span, commit_span
from commands.unit_of_work import UnitOfWork, named_streams


class WriteConflict(Exception):
    """A concurrent writer got there first; the attempt is worth repeating.

    `streams`: the stream ids whose version clashed, when the database named them (a
    group-commit round retries only the commands on those streams).
    """

    def __init__(self, message: str, streams: frozenset[UUID] = frozenset()) -> None:
        super().__init__(message)
        self.streams = streams


class StaleCopies(WriteConflict):
    """Cached copies (`streams`) were behind the store: retry at once, nobody to wait for."""


def _backoff(state: RetryCallState) -> float:
    """Jittered back-off between lost races; none after a stale copy (it is dropped)."""
    error = state.outcome.exception() if state.outcome is not None else None
    return 0.0 if isinstance(error, StaleCopies) else _JITTER(state)


_JITTER = wait_random_exponential(multiplier=0.005, max=0.25)


_CLASHED_KEY = re.compile(r"\(originator_id, originator_version\)=\(([0-9a-f-]{36}),")


def clashed_streams(error: BaseException) -> frozenset[UUID]:
    """The stream id in a version-key violation's detail ("Key (...)=(id, 5) already
    exists"); empty when the database did not say."""
    detail = getattr(getattr(error.__cause__, "diag", None), "message_detail", None) or ""
    return frozenset(UUID(found) for found in _CLASHED_KEY.findall(detail))


@dataclass
class _Done:
    """A command handled in this attempt, waiting for its positions."""

    outcome: Outcome
    version: int
    events: list[EventKey]


def utc_now() -> datetime:
    return datetime.now(UTC)


def constraint_of(error: BaseException) -> str | None:
    """The violated constraint's name from the psycopg error the library wrapped."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    return getattr(diag, "constraint_name", None)


class CommandService:
    """Handles commands against a `CrmApplication` under a business `Policy`."""

    def __init__(
        self,
        app: CrmApplication,
        policy: Policy | None = None,
        *,
        max_attempts: int = 20,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.app = app
        self.policy = policy or Policy.default()
        self.max_attempts = max_attempts
        self.clock = clock
        self.handlers: dict[type[Command], Handler] = dict(HANDLERS)

    # -- public ---------------------------------------------------------------------------

    def handle(self, command: Command, context: CommandContext) -> CommandResult:
        """Record one command; see the module docstring for retries and idempotency."""
        with command_span(command.type_name):
            return self._with_retries([command], context)[0]

    def handle_many(
        self,
        commands: Sequence[Command],
        context: CommandContext,
        *,
        contexts: Sequence[CommandContext] | None = None,
        retry_conflicts: bool = True,
    ) -> list[CommandResult]:
        """Record many commands in one transaction: all of them, or (on error) none.

        A refused command raises its domain error with ``command_index`` set on it.
        Emails are checked against the batch's final state: a batch may move an address
        from one customer to another in any order. `retry_conflicts=False`: a lost race
        raises `WriteConflict` (naming the clashed streams) instead of being retried, for
        a caller that retries only the commands concerned (`GroupCommitter`).
        """
        if not commands:
            return []
        if contexts is not None and len(contexts) != len(commands):
            raise ValueError("one context per command")
        if not retry_conflicts:
            return self._attempt(list(commands), context, contexts)
        return self._with_retries(list(commands), context, contexts)

    # -- attempts -------------------------------------------------------------------------

    def _with_retries(
        self,
        commands: list[Command],
        context: CommandContext,
        contexts: Sequence[CommandContext] | None = None,
    ) -> list[CommandResult]:
        retrying = Retrying(
            retry=retry_if_exception_type(WriteConflict),
            stop=stop_after_attempt(self.max_attempts),
            wait=_backoff,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(commands, context, contexts)
        except WriteConflict as error:
            raise Conflict(
                f"gave up after {self.max_attempts} concurrent writes; try again"
            ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        commands: list[Command],
        context: CommandContext,
        contexts: Sequence[CommandContext] | None = None,
    ) -> list[CommandResult]:
        scoped = self._scoped_keys(commands, context, contexts)
        wanted = [k for k in scoped if k is not None]
        stored = self.app.crm_recorder.select_results(wanted) if wanted else {}
        now = self.clock()
        uow = UnitOfWork(self.app, self.policy)
        try:
            return self._run_all(uow, commands, context, contexts, scoped, stored, now)
        finally:
            uow.discard()

    def _run_all(
        self,
        uow: UnitOfWork,
        commands: list[Command],
        context: CommandContext,
        contexts: Sequence[CommandContext] | None,
        scoped: list[ScopedKey | None],
        stored: dict[ScopedKey, StoredResult],
        now: datetime,
    ) -> list[CommandResult]:
        uow.preload(named_streams(commands))
        done: list[_Done | StoredResult | int] = []  # int: same key as an earlier command
        records: list[IdempotencyRecord] = []
        first_with_key: dict[ScopedKey, tuple[int, str]] = {}
        per_event: dict[EventKey, tuple[str | None, UUID | None, UUID | None]] = {}
        for index, (command, key) in enumerate(zip(commands, scoped, strict=True)):
            print_ = fingerprint(command) if key is not None else ""
            if key is not None and key in stored:
                replayed = _replay(index, stored[key], command, print_)
                current = contexts[index] if contexts is not None else context
                if current.scope is not None:
                    _check_replay_in_scope(uow, current, replayed, command, index)
                done.append(replayed)
                continue
            if key is not None and key in first_with_key:
                done.append(_same_in_batch(index, first_with_key[key], commands, print_))
                continue
            current = contexts[index] if contexts is not None else context
            uow.scope, uow.actor = current.scope, current.actor
            item = self._run(uow, command, now, index)
            done.append(item)
            if contexts is not None:
                own = contexts[index]
                for event_key in item.events:
                    per_event[event_key] = (own.actor, own.correlation_id, own.causation_id)
            if key is not None:
                first_with_key[key] = (index, print_)
                records.append(self._record_of(key, command, print_, item))
        # Copies only read were checked by no version key; written ones are, by the save.
        _raise_if_stale(uow.stale_copies(read_only=True))
        positions = self._save(
            uow, records, context, commands, scoped, known=set(stored), contexts=per_event
        )
        return [self._result(d, done, positions) for d in done]

    @staticmethod
    def _scoped_keys(
        commands: Sequence[Command],
        context: CommandContext,
        contexts: Sequence[CommandContext] | None,
    ) -> list[ScopedKey | None]:
        """Each command's (subject, key): its own context's actor when it has one."""
        actors = [c.actor for c in contexts] if contexts is not None else None
        return [
            scoped_key(actors[i] if actors is not None else context.actor, command)
            for i, command in enumerate(commands)
        ]

    def _run(self, uow: UnitOfWork, command: Command, now: datetime, index: int) -> _Done:
        handler = self.handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        try:
            outcome = handler(uow, command, self._time(command, now))
        except DomainError as error:
            # A refusal read off a cached copy that another process has moved past is
            # not the store's answer: retry on current state.
            _raise_if_stale(uow.stale_copies(read_only=False))
            error.command_index = index  # type: ignore[attr-defined]
            raise
        return _Done(outcome, outcome.aggregate.version, uow.attribute(command.type_name))

    @staticmethod
    def _time(command: Command, now: datetime) -> datetime:
        at = command.occurred_at
        if at is None:
            return now
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValidationFailed("occurredAt needs a time zone", field="occurredAt")
        return check_occurred_at(at, now)

    # -- saving ---------------------------------------------------------------------------

    def _save(
        self,
        uow: UnitOfWork,
        records: list[IdempotencyRecord],
        context: CommandContext,
        commands: Sequence[Command],
        scoped: Sequence[ScopedKey | None],
        known: set[ScopedKey],
        contexts: dict[EventKey, tuple[str | None, UUID | None, UUID | None]] | None = None,
    ) -> dict[EventKey, int]:
        with commit_span(len(commands)):
            return self._save_traced(uow, records, context, commands, scoped, known, contexts)

    def _save_traced(
        self,
        uow: UnitOfWork,
        records: list[IdempotencyRecord],
        context: CommandContext,
        commands: Sequence[Command],
        scoped: Sequence[ScopedKey | None],
        known: set[ScopedKey],
        contexts: dict[EventKey, tuple[str | None, UUID | None, UUID | None]] | None,
    ) -> dict[EventKey, int]:
        events = uow.pending_events()
        recorder = self.app.crm_recorder
        try:
            if not events:
                recorder.record_results_only(records)
                return {}
            effects = WriteEffects(
                actor=context.actor,
                correlation_id=context.correlation_id,
                causation_id=context.causation_id,
                default_command=commands[0].type_name if len(commands) == 1 else None,
                commands=uow.commands,
                idempotency=records,
                contexts=contexts or {},
            )
            ciphers = derive_effects(self.app, events, effects)
            recordings = self.app.record(
                events, aggregates=uow.aggregates, effects=effects, new_ciphers=ciphers
            )
            uow.saved()
        except IntegrityError as error:
            raise self._explain(error, uow, scoped, known) from error
        except MergedMeanwhile as error:
            # Decided on a copy loaded before the merge committed: retry on current
            # state, where the customer is closed and the handler refuses (RULE).
            raise WriteConflict(str(error), frozenset({error.customer_id})) from error
        except KeyDestroyed as error:
            raise RuleViolated(
                f"customer {error.customer_id} is forgotten; no new commands"
            ) from error
        return {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }

    def _explain(
        self,
        error: IntegrityError,
        uow: UnitOfWork,
        scoped: Sequence[ScopedKey | None],
        known: set[ScopedKey],
    ) -> Exception:
        """Which constraint failed, as a domain error or a retryable conflict."""
        constraint = constraint_of(error)
        if constraint == EMAIL_PKEY:
            return Conflict("email already in use by another customer", field="email")
        if constraint == IDEMPOTENCY_PKEY:
            return WriteConflict("same idempotency key recorded concurrently")
        if constraint == CUSTOMER_KEYS_PKEY:
            return Conflict("customer already exists", field="customerId")
        if self.app.crm_recorder.is_events_conflict(constraint):
            return self._stream_conflict(uow, scoped, known, clashed_streams(error))
        return error

    def _stream_conflict(
        self,
        uow: UnitOfWork,
        scoped: Sequence[ScopedKey | None],
        known: set[ScopedKey],
        streams: frozenset[UUID],
    ) -> Exception:
        """Retry a lost race, unless a stream we meant to create already existed.

        `known`: (subject, key) pairs already stored before this attempt; a key stored
        since means a racing duplicate won, and the retry will replay (or refuse) it.
        """
        keys = [k for k in scoped if k is not None]
        if keys and set(self.app.crm_recorder.select_results(keys)) - known:
            return WriteConflict("a racing duplicate was recorded; replay it")
        for aggregate_id, field in uow.created.items():
            if self.app.recorder.select_events(aggregate_id, limit=1):
                return Conflict(f"{aggregate_id} already exists", field=field)
        return WriteConflict("another writer got there first", streams)

    # -- results --------------------------------------------------------------------------

    @staticmethod
    def _record_of(key: ScopedKey, command: Command, print_: str, item: _Done) -> IdempotencyRecord:
        return IdempotencyRecord(
            subject=key[0],
            key=key[1],
            command=command.type_name,
            fingerprint=print_,
            result={
                "aggregate_id": str(item.outcome.aggregate.id),
                "customer_id": str(item.outcome.customer_id),
                "version": item.version,
            },
            events=item.events,
        )

    def _result(
        self,
        item: _Done | StoredResult | int,
        done: list[_Done | StoredResult | int],
        positions: dict[EventKey, int],
    ) -> CommandResult:
        if isinstance(item, int):
            return self._result(done[item], done, positions)
        if isinstance(item, StoredResult):
            return _from_stored(item)
        found = [positions[k] for k in item.events if k in positions]
        return CommandResult(
            aggregate_id=item.outcome.aggregate.id,
            customer_id=item.outcome.customer_id,
            version=item.version,
            position=max(found) if found else None,
        )


def _raise_if_stale(stale: frozenset[UUID]) -> None:
    if stale:
        raise StaleCopies("a cached copy was behind the store", stale)


def _replay(index: int, stored: StoredResult, command: Command, print_: str) -> StoredResult:
    """The stored result of a retry; a mismatch names the command's place in the batch."""
    try:
        return check_replay(stored, command, print_)
    except DomainError as error:
        error.command_index = index  # type: ignore[attr-defined]
        raise


def _check_replay_in_scope(
    uow: UnitOfWork, context: CommandContext, stored: StoredResult, command: Command, index: int
) -> None:
    """A retry within a scope answers only while the customer is still in it.

    The stored result names the customer the first run wrote; the gateway builds the
    payload from the customer as it is now, so replaying a key after the customer left
    the caller's scope (reassigned to another team) would read it past the scope. Refused
    like any out-of-scope write: NOT_FOUND on the input's id field, worded as for a
    missing one."""
    written = dict(stored.result).get("customer_id")
    if written in (None, "None"):  # the organisation's commands: no customer to scope
        return
    customer_id = UUID(str(written))
    field, noun, named = "customerId", "customer", getattr(command, "customer_id", None)
    for attribute, input_field in (("complaint_id", "complaintId"), ("task_id", "taskId")):
        if getattr(command, attribute, None) is not None:
            field, noun, named = input_field, attribute.split("_")[0], getattr(command, attribute)
            break
    uow.scope, uow.actor = context.scope, context.actor
    try:
        uow.customer(customer_id, field=field)
    except NotFound:
        error = NotFound(f"no {noun} {named or customer_id}", field=field)
        error.command_index = index  # type: ignore[attr-defined]
        raise error from None


def _same_in_batch(
    index: int, first: tuple[int, str], commands: Sequence[Command], print_: str
) -> int:
    """A key used twice in one batch: the first command's result, if it is the same command."""
    first_index, first_print = first
    if first_print != print_:
        error = mismatch(f"already used for a {commands[first_index].type_name} command")
        error.command_index = index  # type: ignore[attr-defined]
        raise error
    return first_index


def _from_stored(stored: StoredResult) -> CommandResult:
    result: dict[str, Any] = dict(stored.result)
    return CommandResult(
        aggregate_id=UUID(result["aggregate_id"]),
        customer_id=UUID(result["customer_id"]),
        version=int(result["version"]),
        position=stored.position,
    )
