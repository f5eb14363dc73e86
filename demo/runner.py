"""Send a demo history through the command layer, batch by batch, with a progress bar.

Every event is made by the same handlers, rules and store as a GraphQL mutation would
(no direct inserts): the demo data is therefore also a broad smoke test of the write
side. Batches go through `CommandService.handle_many`, one transaction each, which is
what makes loading a year of history take seconds instead of minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aggregates.errors import DomainError
from commands.messages import CommandContext
from commands.service import CommandService
from demo.history import Batch
from streams.heap import collector_for_bulk

SEED_ACTOR = "crm-seed"

OnBatch = Callable[[float, int], None]
"""on_batch(customers advanced, events so far)."""


class SeedFailed(RuntimeError):
    """A generated command was refused: a bug in the generator or a changed rule."""


@dataclass(frozen=True)
class SeedReport:
    customers: int
    commands: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def last_position(service: CommandService) -> int:
    return service.app.recorder.max_notification_id() or 0


def load(
    service: CommandService,
    batches: Iterable[Batch],
    *,
    customers: int,
    context: CommandContext | None = None,
    on_batch: OnBatch | None = None,
) -> SeedReport:
    """Record every batch in its own transaction; events counted by global position.

    Positions are handed out under the store's table lock, so the difference between
    the last position before and after is the number of events recorded here (assuming
    nobody else writes meanwhile, which holds for a demo load).
    """
    context = context or CommandContext(actor=SEED_ACTOR)
    with collector_for_bulk():  # its first full collection before the clock starts
        start = last_position(service)
        commands = 0
        began = time.perf_counter()
        reached = start
        for batch in batches:
            try:
                results = service.handle_many(batch.commands, context)
            except DomainError as error:
                index = getattr(error, "command_index", None)
                culprit = batch.commands[index] if index is not None else None
                raise SeedFailed(f"{error.code} {error}: {culprit!r}") from error
            commands += len(batch.commands)
            reached = max([reached, *(r.position for r in results if r.position is not None)])
            if on_batch is not None:
                on_batch(batch.customers, reached - start)
        seconds = time.perf_counter() - began
    return SeedReport(customers, commands, last_position(service) - start, seconds)
