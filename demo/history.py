"""A whole demo history: cohorts of customer stories, merged into time order, in batches.

Customers meet each other in two ways: a referral (the referrer's stream gets a
ReferralRecorded when the new customer registers) and a merge of duplicates (both
streams get an event). For each stream to stay in business-time order, the commands
of customers who meet must be sent in time order. Customers therefore live in small
*cohorts*: referrers and merge survivors are chosen inside the cohort, and a cohort's
commands are merged into one time-ordered list. Cohorts are fixed by the seed (not by
`--batch`), so the batch size only decides how many commands share a transaction.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from commands.messages import Command
from demo.people import People
from demo.story import Story, StoryWriter

COHORT_SIZE = 25


@dataclass(frozen=True)
class Batch:
    """Commands for one `handle_many` call; `customers` is what it advances progress by."""

    customers: float
    commands: list[Command]


class DemoHistory:
    """`customers` stories for `seed`, ending at `until`; iterate `batches(n)`."""

    def __init__(self, *, customers: int, seed: int, until: datetime) -> None:
        if customers < 0:
            raise ValueError("customers must not be negative")
        self.customers = customers
        self.seed = seed
        self.writer = StoryWriter(People(seed), until)

    def cohort(self, number: int) -> list[Command]:
        """Cohort `number`'s commands, all customers' merged by business time."""
        first = number * COHORT_SIZE
        stories: list[Story] = []
        for index in range(first, min(first + COHORT_SIZE, self.customers)):
            rng = random.Random(f"crm-demo:{self.seed}:{index}")
            stories.append(self.writer.write(index, rng, stories))
        timelines = [
            [(c.occurred_at, s.index, seq, c) for seq, c in enumerate(s.commands)] for s in stories
        ]
        return [entry[3] for entry in heapq.merge(*timelines, key=lambda e: e[:3])]

    def cohorts(self) -> Iterator[tuple[int, list[Command]]]:
        """(customers in it, commands) per cohort, in order."""
        for number in range(-(-self.customers // COHORT_SIZE)):
            size = min(COHORT_SIZE, self.customers - number * COHORT_SIZE)
            yield size, self.cohort(number)

    def batches(self, per_batch: int) -> Iterator[Batch]:
        """About `per_batch` customers' worth of commands per batch, in cohort order.

        Whole cohorts are grouped while they fit; a cohort bigger than a batch is cut
        into equal slices (its commands stay in order, so cutting is always safe).
        """
        if per_batch < 1:
            raise ValueError("per_batch must be at least 1")
        pending: list[Command] = []
        pending_customers = 0
        for size, commands in self.cohorts():
            if size > per_batch:
                yield from self._slices(size, commands, per_batch)
                continue
            if pending_customers + size > per_batch and pending:
                yield Batch(pending_customers, pending)
                pending, pending_customers = [], 0
            pending.extend(commands)
            pending_customers += size
        if pending:
            yield Batch(pending_customers, pending)

    @staticmethod
    def _slices(size: int, commands: list[Command], per_batch: int) -> Iterator[Batch]:
        parts = -(-size // per_batch)
        step = -(-len(commands) // parts)
        for start in range(0, len(commands), step):
            chunk = commands[start : start + step]
            yield Batch(size * len(chunk) / len(commands), chunk)
