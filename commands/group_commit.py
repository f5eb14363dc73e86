"""Group commit: many callers' single commands recorded together, one transaction each round.

Why: every transaction that records events takes the event table's EXCLUSIVE lock and
ends with a WAL flush, so concurrent single commands queue behind each other one
commit at a time, and each pays the whole fixed cost of a transaction. Gathering the
commands that arrive together and recording them with `CommandService.handle_many`
pays that cost once per round instead of once per command.

How: callers of `GroupCommitter.handle` enqueue their command and wait. A committer
thread takes everything queued (lingering up to `window` seconds for more when the
last round showed that several callers are active, until `max_batch` are waiting),
records the round, and hands each caller its own `CommandResult`, with its own
position, or its own error:

- A refused command (a `DomainError` carrying ``command_index``) gets its error; the
  others are recorded again without it (an all-or-nothing batch must not let one bad
  command fail its neighbours).
- A lost race with another writer (a stream's version taken meanwhile) retries only the
  commands naming the clashed stream: the rest are recorded at once, in a transaction
  of their own, and the clashed ones go through the service's retries.
- A failure no single command is named for (an email taken twice within the round, a
  stream still contended after the service's own retries) splits the round in halves,
  recursively, so the culprit ends up alone with its error and the rest are recorded.
- Infrastructure failures (the database is unreachable) fail the round's callers at
  once: splitting cannot cure them.
- Idempotency keys keep their meaning: `handle_many` scopes each key to its caller's
  actor, replays stored keys and resolves the same key twice within a round to the
  first command's result; a mismatch refuses only that caller.

Contexts: each caller's `CommandContext` (actor, correlation, causation) is recorded
on its own events (`handle_many(..., contexts=...)`), so callers with a context per
request (every GraphQL mutation) share one transaction like any others.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import TracebackType

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from opentelemetry.trace import SpanContext

from aggregates.errors import DomainError
from commands.messages import Command, CommandContext, CommandResult
from commands.service import CommandService, WriteConflict
from commands.tracing import command_span, current_span_context, round_span
from commands.unit_of_work import named_streams

DEFAULT_WINDOW = 0.002
DEFAULT_MAX_BATCH = 128

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class CommitterClosed(RuntimeError):
    """`handle` was called after `close`."""


@dataclass
class GroupStats:
    """Counters for tuning and benchmarks (read them after `close`, or racily)."""

    commands: int = 0
    rounds: int = 0
    transactions: int = 0
    refused: int = 0
    splits: int = 0
    partial_retries: int = 0
    largest_round: int = 0


@dataclass(eq=False)
class _Call:
    """One waiting caller."""

    command: Command
    context: CommandContext
    future: Future[CommandResult] = field(default_factory=Future)
    span: SpanContext = field(default_factory=current_span_context)  # the caller's

    def succeed(self, result: CommandResult) -> None:
        if not self.future.cancelled():  # its caller left; the others still get theirs
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if isinstance(error, DomainError):
            # The index named the command's place in a round; alone, it is command 0,
            # exactly what `CommandService.handle` would have said.
            error.command_index = 0  # type: ignore[attr-defined]
        if not self.future.cancelled():
            self.future.set_exception(error)


class GroupCommitter:
    """Wraps a `CommandService`; `handle` has the same contract as the service's.

    `window`: how long a round may wait for more callers (seconds), only when the
    previous round had several; a lone caller never waits. `max_batch`: the most
    commands in one round. `workers`: committer threads; more than one lets a round
    run its Python while another waits on PostgreSQL, at the price of more stream
    conflicts (which `handle_many` retries).
    """

    def __init__(
        self,
        service: CommandService,
        *,
        window: float = DEFAULT_WINDOW,
        max_batch: int = DEFAULT_MAX_BATCH,
        workers: int = 1,
        name: str = "group-commit",
    ) -> None:
        if window < 0 or max_batch < 1 or workers < 1:
            raise ValueError("window must be >= 0, max_batch and workers >= 1")
        self.service = service
        self.window = window
        self.max_batch = max_batch
        self.stats = GroupStats()
        self._cond = threading.Condition()
        self._queue: deque[_Call] = deque()
        self._closed = False
        self._expected = 1  # size of the last round: how many callers seem active
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- callers --------------------------------------------------------------------------

    def handle(self, command: Command, context: CommandContext) -> CommandResult:
        """Record one command (with others); blocks until its own result or error."""
        with command_span(command.type_name):
            return self.submit(command, context).result()

    def submit(self, command: Command, context: CommandContext) -> Future[CommandResult]:
        """Enqueue without waiting; the future holds the result or the error."""
        call = _Call(command, context)
        with self._cond:
            if self._closed:
                raise CommitterClosed("the group committer is closed")
            self._queue.append(call)
            self._cond.notify()
        return call.future

    def close(self, timeout: float | None = None) -> None:
        """Record what is queued, then stop the committer threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- committer ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            calls = self._next_round()
            if calls is None:
                return
            try:
                self._commit_round(calls)
            except BaseException as error:  # never leave a caller waiting forever
                for call in calls:
                    if not call.future.done():
                        call.fail(error)

    def _next_round(self) -> list[_Call] | None:
        """Wait for a first call, linger for company if others seem active, take them."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            target = min(self.max_batch, self._expected)
            if self.window > 0 and target > len(self._queue):
                deadline = time.monotonic() + self.window
                while len(self._queue) < target and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            take = min(len(self._queue), self.max_batch)
            calls = [self._queue.popleft() for _ in range(take)]
            self._expected = max(take, 1)
            self.stats.rounds += 1
            self.stats.commands += take
            self.stats.largest_round = max(self.stats.largest_round, take)
            return calls

    def _commit_round(self, calls: list[_Call]) -> None:
        with round_span([call.span for call in calls]):
            self._record(calls, calls[0].context)

    def _record(
        self, calls: Sequence[_Call], context: CommandContext, *, retry_all: bool = False
    ) -> None:
        """Record `calls` together, dropping refused ones and splitting what can't be told.

        `retry_all`: let the service retry lost races itself (once a round's conflict
        could not be narrowed down to some of its commands)."""
        pending = list(calls)
        while pending:
            self.stats.transactions += 1
            try:
                results = self.service.handle_many(
                    [c.command for c in pending],
                    pending[0].context,
                    contexts=[c.context for c in pending],
                    retry_conflicts=retry_all,
                )
            except WriteConflict as conflict:
                clashed = [c for c in pending if conflict.streams & set(named_streams([c.command]))]
                if clashed and len(clashed) < len(pending):
                    self.stats.partial_retries += 1
                    self._record([c for c in pending if c not in clashed], context)
                    self._record(clashed, context, retry_all=True)
                    return
                retry_all = True
                continue
            except INFRASTRUCTURE_ERRORS as error:
                for call in pending:
                    call.fail(error)
                return
            except DomainError as error:
                index = getattr(error, "command_index", None)
                if isinstance(index, int) and 0 <= index < len(pending):
                    self.stats.refused += 1
                    pending.pop(index).fail(error)
                    continue
                self._split(pending, context, error)
                return
            except Exception as error:
                self._split(pending, context, error)
                return
            for call, result in zip(pending, results, strict=True):
                call.succeed(result)
            return

    def _split(self, calls: list[_Call], context: CommandContext, error: Exception) -> None:
        if len(calls) == 1:
            calls[0].fail(error)
            return
        self.stats.splits += 1
        half = len(calls) // 2
        self._record(calls[:half], context)
        self._record(calls[half:], context)
